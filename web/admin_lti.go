package web

import (
	"net/http"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
)

// registerAdminLTI adds the learning platforms page: admins register the
// platforms that launch workshops with LTI 1.3, and read what to enter on
// the platform's side.
func (p *Pages) registerAdminLTI(mux *http.ServeMux) {
	if p.LTI == nil {
		return
	}
	admin := func(h func(http.ResponseWriter, *http.Request, *adminRequest)) http.HandlerFunc {
		return p.admin(wod.RoleAdmin, h)
	}
	mux.HandleFunc("GET /admin/lti", admin(p.ltiPlatforms))
	mux.HandleFunc("POST /admin/lti", admin(p.addLTIPlatform))
	mux.HandleFunc("POST /admin/lti/{id}/delete", admin(p.deleteLTIPlatform))
}

const ltiPage = "/admin/lti"

type ltiForm struct {
	Name, Issuer, ClientID, Deployments, AuthURL, JWKSURL, TokenURL string
	Errors                                                          map[string]string
}

type ltiData struct {
	CSRF      string
	Platforms []*wod.LTIPlatform
	// LoginURL, LaunchURL and JWKSURL are what the platform's side needs.
	LoginURL, LaunchURL, JWKSURL string
	Fields                       []ltiField
	Problem                      bool
}

// ltiField is one input of the registration form.
type ltiField struct {
	Name, Label, Type, Hint, Value, Error string
}

// fields lays the form out, with its values and errors.
func (f ltiForm) fields() []ltiField {
	fs := []ltiField{
		{Name: "name", Label: "Name", Type: "text", Hint: "e.g. moodle-cs101: lower-case letters, digits, dots, dashes", Value: f.Name},
		{Name: "issuer", Label: "Issuer", Type: "url", Hint: "the platform ID, e.g. https://moodle.example.edu", Value: f.Issuer},
		{Name: "client_id", Label: "Client id", Type: "text", Value: f.ClientID},
		{Name: "deployment_ids", Label: "Deployment ids", Type: "text", Hint: "optional, comma-separated: only these deployments may launch", Value: f.Deployments},
		{Name: "auth_url", Label: "Authentication request URL", Type: "url", Hint: "e.g. https://moodle.example.edu/mod/lti/auth.php", Value: f.AuthURL},
		{Name: "jwks_url", Label: "Public keyset URL", Type: "url", Hint: "e.g. https://moodle.example.edu/mod/lti/certs.php", Value: f.JWKSURL},
		{Name: "token_url", Label: "Access token URL", Type: "url", Hint: "optional: to post completions to the grade book, e.g. https://moodle.example.edu/mod/lti/token.php", Value: f.TokenURL},
	}
	for i := range fs {
		fs[i].Error = f.Errors[fs[i].Name]
	}
	return fs
}

func (p *Pages) ltiPlatforms(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	p.renderLTI(w, r, a, http.StatusOK, ltiForm{})
}

func (p *Pages) renderLTI(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, f ltiForm) {
	ps, err := p.LTI.Platforms.FindLTIPlatforms(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := &ltiData{CSRF: a.CSRF, Platforms: ps, LoginURL: p.LTI.PublicURL + lti.LoginPath,
		LaunchURL: p.LTI.PublicURL + lti.LaunchPath, JWKSURL: p.LTI.PublicURL + lti.JWKSPath, Fields: f.fields(), Problem: len(f.Errors) > 0}
	title := "Learning platforms"
	if len(f.Errors) > 0 {
		title = "Please check the platform — " + title
	}
	p.render(w, r, status, "admin/lti.html", p.adminView(w, r, a, "lti", title, d))
}

func (p *Pages) addLTIPlatform(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := ltiForm{Name: strings.TrimSpace(r.PostFormValue("name")), Issuer: strings.TrimSpace(r.PostFormValue("issuer")),
		ClientID: strings.TrimSpace(r.PostFormValue("client_id")), Deployments: strings.TrimSpace(r.PostFormValue("deployment_ids")),
		AuthURL: strings.TrimSpace(r.PostFormValue("auth_url")), JWKSURL: strings.TrimSpace(r.PostFormValue("jwks_url")),
		TokenURL: strings.TrimSpace(r.PostFormValue("token_url"))}
	pl := &wod.LTIPlatform{Name: f.Name, Issuer: f.Issuer, ClientID: f.ClientID, AuthURL: f.AuthURL, JWKSURL: f.JWKSURL,
		TokenURL: f.TokenURL}
	for d := range strings.SplitSeq(f.Deployments, ",") {
		if d = strings.TrimSpace(d); d != "" {
			pl.DeploymentIDs = append(pl.DeploymentIDs, d)
		}
	}
	if err := p.Operator.CreateLTIPlatform(r.Context(), a.Caller, pl); err != nil {
		if fe, bad := fieldErrors(err); bad {
			f.Errors = fe
			p.renderLTI(w, r, a, http.StatusUnprocessableEntity, f)
			return
		}
		if wod.ErrorCode(err) == wod.ECONFLICT {
			f.Errors = map[string]string{"name": wod.ErrorMessage(err)}
			p.renderLTI(w, r, a, http.StatusConflict, f)
			return
		}
		p.fail(w, r, err)
		return
	}
	p.done(w, r, ltiPage, "Platform "+pl.Name+" registered: its courses can launch workshops now.")
}

func (p *Pages) deleteLTIPlatform(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	if err == nil {
		err = p.Operator.DeleteLTIPlatform(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, ltiPage, err)
		return
	}
	p.done(w, r, ltiPage, "Platform removed: its launches are refused from now on.")
}
