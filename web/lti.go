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
// redirect to its authorisation endpoint. It is rate limited per client
// address with the registrations' limit: each login leaves a state in the
// database, and a launch needs one, so this also bounds the launches.
func (p *Pages) ltiLogin(w http.ResponseWriter, r *http.Request) {
	if ok, wait := p.Gate.AllowRegistration(r.Context()); !ok {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", itoa(secs))
		p.ltiProblem(w, r, wod.Errorf(wod.ERATELIMITED, "Too many workshops were opened from your network just now. "+
			"Start the activity again from your course in %d seconds.", secs))
		return
	}
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
// the activity's workshop, or, when the same learner of the same platform
// (its sub) holds a live registration already, leads them back to it. The
// e-mail address proves nothing: any learner can set theirs to anyone's at
// some platform, so an address that holds a registration made elsewhere
// (the portal, the API, another platform or another learner) gets what the
// portal answers, "already registered", and never that registration.
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
	ctx := r.Context()
	reg, err := p.LTI.Platforms.FindLTIRegistration(ctx, l.Platform.ID, l.Subject)
	switch {
	case err == nil:
		p.ltiReturn(r, l, reg)
	case wod.ErrorCode(err) == wod.ENOTFOUND:
		name := l.Name
		if name == "" {
			name, _, _ = strings.Cut(l.Email, "@")
		}
		reg, err = p.Registrar.Register(ctx, wod.RegistrationRequest{Workshop: l.Workshop, Name: truncateBytes(name, 200),
			Email: l.Email, Company: truncateBytes(l.Course, 200), ClientIP: p.Gate.ClientAddress(ctx),
			Launch: &wod.LTILaunch{PlatformID: l.Platform.ID, Subject: l.Subject, LineItem: l.LineItem}})
		if wod.ErrorCode(err) == wod.EALREADYREGISTERED {
			// The same learner's other launch may have registered since we
			// looked (a double click); anyone else's registration stays theirs.
			if reg, err = p.LTI.Platforms.FindLTIRegistration(ctx, l.Platform.ID, l.Subject); wod.ErrorCode(err) == wod.ENOTFOUND {
				p.Logger.InfoContext(ctx, "LTI launch: the address is registered by someone else", "platform", l.Platform.Name)
				p.ltiAlreadyRegistered(w, r, l.Email)
				return
			}
		}
	}
	if err != nil {
		p.ltiProblem(w, r, err)
		return
	}
	p.Logger.InfoContext(ctx, "LTI launch", "platform", l.Platform.Name, "registration", reg.ID, "workshop", reg.Workshop)
	http.Redirect(w, r, "/status/"+p.Keys.StatusToken(reg.ID), http.StatusSeeOther)
}

// ltiReturn brings a learner back to their live registration: when the
// activity has a grade book, the latest activity gets the grade.
func (p *Pages) ltiReturn(r *http.Request, l *lti.Launch, reg *wod.Registration) {
	if l.LineItem == "" {
		return
	}
	book := &wod.LTILaunch{RegistrationID: reg.ID, PlatformID: l.Platform.ID, Subject: l.Subject, LineItem: l.LineItem}
	if err := p.LTI.Platforms.SaveLTILaunch(r.Context(), book); err != nil {
		p.Logger.ErrorContext(r.Context(), "LTI launch: keeping the grade book", "registration", reg.ID, "error", err)
	}
}

// ltiAlreadyRegistered answers a launch whose address holds a registration
// that this learner did not launch: as the portal does, with the way to
// have the link sent again to that address, and nothing of the
// registration (no link, no end time).
func (p *Pages) ltiAlreadyRegistered(w http.ResponseWriter, r *http.Request, email string) {
	w.Header().Set("Cache-Control", "no-store")
	p.render(w, r, http.StatusConflict, "portal/lti_registered.html", p.view(r.Context(),
		"This address already has a workshop running", ltiRegisteredData{Email: email, Code: wod.EALREADYREGISTERED}))
}

type ltiRegisteredData struct{ Email, Code string }

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
	case wod.ERATELIMITED:
		status, title = http.StatusTooManyRequests, "Too many launches"
	case wod.EINVALID:
		if len(e.Fields) > 0 {
			var parts []string
			for _, f := range e.Fields {
				parts = append(parts, f.Sentence())
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
