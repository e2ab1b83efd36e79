package web

import (
	"net/http"
	"net/url"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
)

// LTI deep linking: an instructor adding an activity to their course picks
// workshops from the catalogue, inside the platform's dialog; the answer
// goes back to the platform as a signed form post.

type ltiPickData struct {
	Token     string
	Multiple  bool
	Workshops []*wod.Workshop
	Course    string
}

// ltiPicker shows the catalogue to pick from. The platform shows it in a
// frame of its own pages, so it may frame this one.
func (p *Pages) ltiPicker(w http.ResponseWriter, r *http.Request, l *lti.Launch) {
	ws, err := p.activeWorkshops(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", pagePolicy(l.DeepLink.ReturnOrigin, "'self'"))
	p.render(w, r, http.StatusOK, "portal/lti_pick.html", p.view(r.Context(), "Add a workshop to your course",
		&ltiPickData{Token: l.DeepLink.Token, Multiple: l.DeepLink.AcceptMultiple, Workshops: ws, Course: l.Course}))
}

type ltiReturnData struct {
	ReturnURL, JWT string
	Titles         []string
}

// ltiDeepLink answers the platform with the workshops picked: a form that
// posts the signed answer to the platform (by itself with JavaScript).
func (p *Pages) ltiDeepLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.ltiProblem(w, r, wod.Errorf(wod.EINVALID, "the choice could not be read"))
		return
	}
	var picks []lti.Pick
	var titles []string
	for _, slug := range r.PostForm["workshop"] {
		ws, err := p.Workshops.FindWorkshop(r.Context(), slug)
		if err != nil {
			p.ltiProblem(w, r, err)
			return
		}
		picks = append(picks, lti.Pick{Workshop: ws.Slug, Title: ws.Title, Text: ws.Description})
		titles = append(titles, ws.Title)
	}
	returnURL, signed, err := p.LTI.DeepLinkResponse(r.Context(), r.PostForm.Get("token"), picks)
	if err != nil {
		p.ltiProblem(w, r, err)
		return
	}
	u, _ := url.Parse(returnURL)
	origin := u.Scheme + "://" + u.Host
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", pagePolicy(origin, "'self' "+origin))
	p.render(w, r, http.StatusOK, "portal/lti_return.html", p.view(r.Context(), "Adding the workshop to your course",
		&ltiReturnData{ReturnURL: returnURL, JWT: signed, Titles: titles}))
}
