package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/login"
)

// The admin pages sit behind the operators' login session (the same
// sessions, and the same login guard, as the API). Every POST carries a CSRF token
// bound to the session, on top of the cross-origin check that guards the
// whole server.

const flashCookie = "wod_flash"

func (p *Pages) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/login", p.loginForm)
	mux.HandleFunc("POST /admin/login", p.login)
	mux.HandleFunc("POST /admin/logout", p.admin(wod.RoleModerator, p.logout))
	p.registerAdminPeople(mux)
	p.registerAdminAnnouncements(mux)
	p.registerAdminWorkshops(mux)
	p.registerAdminRehearsals(mux)
	p.registerAdminRegistrations(mux)
	p.registerAdminMails(mux)
	p.registerDashboard(mux)
	p.registerAdminLTI(mux)
	p.registerAdminWebhooks(mux)
	mux.HandleFunc("GET /admin/{rest...}", p.admin(wod.RoleModerator, func(w http.ResponseWriter, r *http.Request, a *adminRequest) {
		v := p.adminView(w, r, a, "", "Not found", "There is no such admin page.")
		p.render(w, r, http.StatusNotFound, "portal/notfound.html", v)
	}))
}

// adminRequest is an operator's request that passed the session (and, for
// a POST, the CSRF) checks.
type adminRequest struct {
	Caller *wod.Caller
	// CSRF is the token forms must send back.
	CSRF string
	// Session is the session secret, for logout.
	Session string
}

// admin guards h: an operator of at least role must be logged in; a POST
// must carry the session's CSRF token.
func (p *Pages) admin(role wod.Role, h func(http.ResponseWriter, *http.Request, *adminRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var caller *wod.Caller
		if err == nil && c.Value != "" {
			caller, err = p.Gate.SessionCaller(r.Context(), c.Value)
		}
		if caller == nil || err != nil {
			if err != nil && wod.ErrorCode(err) != wod.EUNAUTHORIZED && !errors.Is(err, http.ErrNoCookie) {
				p.fail(w, r, err)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.renderLogin(w, r, http.StatusUnauthorized, loginData{Problem: "Your session has ended; please log in again."})
			return
		}
		a := &adminRequest{Caller: caller, CSRF: p.Keys.Sign("csrf", c.Value), Session: c.Value}
		if !caller.Role.Allows(role) {
			p.fail(w, r, wod.Errorf(wod.EFORBIDDEN, "This page is for %ss only.", role))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 32<<20)
			sent := r.PostFormValue("csrf")
			if sent == "" {
				sent = r.Header.Get("X-CSRF-Token")
			}
			if subtle.ConstantTimeCompare([]byte(sent), []byte(a.CSRF)) != 1 {
				p.fail(w, r, wod.Errorf(wod.EFORBIDDEN, "This form has expired (or did not come from this site). Go back, reload the page and try again."))
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, a)
	}
}

// sessionCookie is the API's session cookie: one login for both.
const sessionCookie = "wod_session"

// adminView is the view of an admin page; it takes the flash message the
// previous action left.
func (p *Pages) adminView(w http.ResponseWriter, r *http.Request, a *adminRequest, section, title string, data any) *view {
	v := p.view(r.Context(), title, data)
	v.Caller, v.CSRF, v.Section = a.Caller, a.CSRF, section
	if c, err := r.Cookie(flashCookie); err == nil {
		if msg, err := url.QueryUnescape(c.Value); err == nil {
			v.Flash = msg
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/admin", MaxAge: -1, HttpOnly: true})
	}
	return v
}

// done ends an admin action: the message shows on the page it redirects to.
func (p *Pages) done(w http.ResponseWriter, r *http.Request, to, message string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(message), Path: "/admin", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// actionFailed shows why an admin action was refused, on the page it came
// from when that is one of ours.
func (p *Pages) actionFailed(w http.ResponseWriter, r *http.Request, back string, err error) {
	switch wod.ErrorCode(err) {
	case wod.EINVALID, wod.ECONFLICT, wod.ENOTFOUND, wod.EFULL:
		msg := wod.ErrorMessage(err)
		var e *wod.Error
		if errors.As(err, &e) {
			for _, f := range e.Fields {
				msg += "; " + f.Sentence()
			}
		}
		// The flash travels in a cookie, which browsers drop past ~4 KB.
		p.done(w, r, back, truncate(1500, "Not done: "+msg))
	default:
		p.fail(w, r, err)
	}
}

type loginData struct {
	Username, Next, Problem string
}

func (p *Pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	w.Header().Set("Cache-Control", "no-store")
	p.render(w, r, status, "admin/login.html", p.view(r.Context(), "Operator login", d))
}

func (p *Pages) loginForm(w http.ResponseWriter, r *http.Request) {
	p.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (p *Pages) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	d := loginData{Username: strings.TrimSpace(r.PostFormValue("username")), Next: safeNext(r.PostFormValue("next"))}
	sess, err := p.Gate.Login(r.Context(), d.Username, r.PostFormValue("password"))
	if err != nil {
		var e *wod.Error
		switch {
		case wod.ErrorCode(err) == wod.EUNAUTHORIZED:
			d.Problem = "Wrong user name or password."
			p.renderLogin(w, r, http.StatusUnauthorized, d)
		case errors.As(err, &e) && e.Code == wod.ERATELIMITED:
			wait := max(e.RetryAfter.Round(time.Second), time.Second)
			w.Header().Set("Retry-After", itoa(int(wait/time.Second)))
			d.Problem = "Too many failed logins. Try again in " + wait.String() + "."
			if errors.Is(err, login.ErrBusy) {
				d.Problem = "Too many logins are being checked at this moment. Please try again in a second."
			}
			p.renderLogin(w, r, http.StatusTooManyRequests, d)
		default:
			p.fail(w, r, err)
		}
		return
	}
	http.SetCookie(w, p.Gate.SessionCookieFor(sess.Token, sess.ExpiresAt))
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (p *Pages) logout(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	if err := p.Gate.Logout(r.Context(), a.Session); err != nil {
		p.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on our admin pages.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/admin"
}
