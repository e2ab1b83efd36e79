package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
)

// registerLTI adds the LTI 1.3 endpoints a learning platform calls: the
// login initiation and the launch, which registers the learner and opens
// their status page. Without a Tool they are not served.
func (p *Pages) registerLTI(mux *http.ServeMux) {
	if p.LTI == nil {
		return
	}
	mux.HandleFunc("GET "+lti.LoginPath, p.ltiLogin)
	mux.HandleFunc("POST "+lti.LoginPath, p.ltiLogin)
	mux.HandleFunc("POST "+lti.LaunchPath, p.ltiLaunch)
	mux.HandleFunc("GET "+lti.JWKSPath, p.ltiJWKS)
	mux.HandleFunc("POST "+lti.DeepLinkPath, p.ltiDeepLink)
}

// ltiJWKS serves the tool's public key, with which platforms check its
// requests for grade-book tokens.
func (p *Pages) ltiJWKS(w http.ResponseWriter, r *http.Request) {
	b, err := p.LTI.JWKS()
	if err != nil {
		p.notFound(w, r, "This server reports no grades: it has no LTI key.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

// ltiLogin answers the platform's login initiation (query or form) with a
// redirect to its authorisation endpoint.
func (p *Pages) ltiLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.ltiProblem(w, r, wod.Errorf(wod.EINVALID, "the login request could not be read"))
		return
	}
	to, err := p.LTI.Login(r.Context(), lti.LoginRequest{Issuer: r.Form.Get("iss"), LoginHint: r.Form.Get("login_hint"),
		TargetLinkURI: r.Form.Get("target_link_uri"), MessageHint: r.Form.Get("lti_message_hint"),
		ClientID: r.Form.Get("client_id")})
	if err != nil {
		p.ltiProblem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// ltiLaunch verifies the platform's id_token and registers the learner for
// the activity's workshop, or, when they hold a live registration already,
// leads them back to it: the platform vouches for who they are.
func (p *Pages) ltiLaunch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.ltiProblem(w, r, wod.Errorf(wod.EINVALID, "the launch could not be read"))
		return
	}
	l, err := p.LTI.Launch(r.Context(), r.PostForm.Get("id_token"), r.PostForm.Get("state"))
	if err != nil {
		p.ltiProblem(w, r, err)
		return
	}
	if l.DeepLink != nil {
		p.ltiPicker(w, r, l)
		return
	}
	name := l.Name
	if name == "" {
		name, _, _ = strings.Cut(l.Email, "@")
	}
	// The completion goes to the activity's grade-book column at the end.
	var book *wod.LTILaunch
	if l.LineItem != "" {
		book = &wod.LTILaunch{PlatformID: l.Platform.ID, Subject: l.Subject, LineItem: l.LineItem}
	}
	reg, err := p.Registrar.Register(r.Context(), wod.RegistrationRequest{Workshop: l.Workshop, Name: truncateBytes(name, 200),
		Email: l.Email, Company: truncateBytes(l.Course, 200), ClientIP: p.Gate.ClientAddress(r.Context()), GradeBook: book})
	if wod.ErrorCode(err) == wod.EALREADYREGISTERED {
		reg, err = p.liveRegistration(r, l.Email)
		if err == nil && book != nil {
			// Back to a live registration: the latest activity gets the grade.
			book.RegistrationID = reg.ID
			if err := p.LTI.Platforms.SaveLTILaunch(r.Context(), book); err != nil {
				p.Logger.ErrorContext(r.Context(), "LTI launch: keeping the grade book", "registration", reg.ID, "error", err)
			}
		}
	}
	if err != nil {
		p.ltiProblem(w, r, err)
		return
	}
	p.Logger.InfoContext(r.Context(), "LTI launch", "platform", l.Platform.Name, "registration", reg.ID, "workshop", reg.Workshop)
	http.Redirect(w, r, "/status/"+p.Keys.StatusToken(reg.ID), http.StatusSeeOther)
}

// liveRegistration finds the registration the address holds now.
func (p *Pages) liveRegistration(r *http.Request, email string) (*wod.Registration, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	regs, _, err := p.Registrations.FindRegistrations(r.Context(), wod.RegistrationFilter{Email: &email, Page: wod.Page{Limit: 20}})
	if err != nil {
		return nil, err
	}
	for _, reg := range regs {
		if reg.State.Live() {
			return reg, nil
		}
	}
	return nil, wod.Errorf(wod.ECONFLICT, "your previous session is just ending: start the activity again in a minute")
}

// ltiProblem shows why a launch did not go through, in words for the
// learner, who can only go back to the course.
func (p *Pages) ltiProblem(w http.ResponseWriter, r *http.Request, err error) {
	var e *wod.Error
	if !errors.As(err, &e) {
		p.fail(w, r, err)
		return
	}
	status, title := http.StatusBadRequest, "This workshop could not be opened"
	msg := e.Message
	switch e.Code {
	case wod.EFORBIDDEN:
		status = http.StatusForbidden
	case wod.EUNAUTHORIZED:
		status = http.StatusUnauthorized
		p.Logger.WarnContext(r.Context(), "LTI launch refused", "error", e.Message)
		msg = "Your course's launch could not be verified. Start the activity again from your course; if it keeps failing, tell your teacher: " + e.Message
	case wod.ENOTFOUND:
		status = http.StatusNotFound
	case wod.EFULL:
		status, title = http.StatusConflict, "This workshop is full right now"
		msg = "Seats come back as sessions end: please try again later."
	case wod.ECONFLICT:
		status = http.StatusConflict
	case wod.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	case wod.EINVALID:
		if len(e.Fields) > 0 {
			var parts []string
			for _, f := range e.Fields {
				parts = append(parts, f.Field+" "+f.Message)
			}
			msg += ": " + strings.Join(parts, "; ")
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	p.render(w, r, status, "portal/notfound.html", p.view(r.Context(), title, msg))
}

// truncateBytes shortens s to at most n bytes without cutting a character.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
