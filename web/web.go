// Package web serves wod's pages. For now: the participant's status page,
// reached from the signed link in every mail, with the credentials once
// ready and the "end now" button. The catalogue and the admin pages come
// with the web UI.
package web

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

//go:embed templates/*.html
var templates embed.FS

// Locations finds a location's hub.
type Locations interface {
	FindLocation(ctx context.Context, name string) (*wod.Location, error)
}

// Pages serves the participant pages.
type Pages struct {
	Registrations wod.RegistrationService
	Workshops     wod.WorkshopService
	Locations     Locations
	Registrar     wod.Registrar
	Keys          *secret.Keys
	Clock         wod.Clock
	Logger        *slog.Logger
	// Brand is the organiser's name, as in the mails.
	Brand string

	tmpl *template.Template
}

// Register adds the pages to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"utc": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("Mon 2 Jan 15:04 UTC")
		},
		"iso": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
	}).ParseFS(templates, "templates/*.html"))
	mux.HandleFunc("GET /status/{token}", p.status)
	mux.HandleFunc("GET /status/{token}/end", p.confirmEnd)
	mux.HandleFunc("POST /status/{token}/end", p.end)
}

type statusPage struct {
	Brand, Token, Title, Workshop, Username, Password, LoginURL, LaunchURL, Message string
	State                                                                           wod.RegistrationState
	EndsAt, ReadyAt                                                                 *time.Time
	Completion                                                                      *int
	Live, Running                                                                   bool
}

func (p *Pages) load(w http.ResponseWriter, r *http.Request) (*wod.Registration, *statusPage, bool) {
	token := r.PathValue("token")
	id, ok := p.Keys.ParseStatusToken(token)
	if !ok {
		p.render(w, http.StatusNotFound, "notfound.html", statusPage{Brand: p.Brand})
		return nil, nil, false
	}
	reg, err := p.Registrations.FindRegistration(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	ws, err := p.Workshops.FindWorkshop(r.Context(), reg.Workshop)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	page := &statusPage{Brand: p.Brand, Token: token, Title: ws.Title, Workshop: ws.Slug, State: reg.State,
		EndsAt: reg.EndsAt, ReadyAt: reg.ReadyAt, Completion: reg.Completion, Live: reg.State.Live(),
		Running: reg.State == wod.StateReady || reg.State == wod.StateExpiring}
	if page.Running {
		page.Username = reg.Username
		if len(reg.PasswordEnc) > 0 {
			if page.Password, err = p.Keys.Decrypt(reg.PasswordEnc); err != nil {
				p.fail(w, r, err)
				return nil, nil, false
			}
		}
		if l, err := p.Locations.FindLocation(r.Context(), reg.Location); err == nil && l.HubURL != "" {
			page.LoginURL = l.HubURL + "/hub/login"
			page.LaunchURL = page.LoginURL + "?next=/hub/user/" + reg.Username + "/"
		}
	}
	return reg, page, true
}

func (p *Pages) status(w http.ResponseWriter, r *http.Request) {
	if _, page, ok := p.load(w, r); ok {
		// The page shows a password: keep it out of caches and referrers.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		p.render(w, http.StatusOK, "status.html", page)
	}
}

func (p *Pages) confirmEnd(w http.ResponseWriter, r *http.Request) {
	if _, page, ok := p.load(w, r); ok {
		w.Header().Set("Cache-Control", "no-store")
		p.render(w, http.StatusOK, "end.html", page)
	}
}

// end is a POST behind a confirmation page: a link in a mail is followed by
// scanners and previewers, which must not end anybody's session.
func (p *Pages) end(w http.ResponseWriter, r *http.Request) {
	reg, _, ok := p.load(w, r)
	if !ok {
		return
	}
	if reg.State.Live() {
		if _, err := p.Registrar.EndNow(r.Context(), reg.ID, "participant"); err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
			p.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/status/"+r.PathValue("token"), http.StatusSeeOther)
}

func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		p.render(w, http.StatusNotFound, "notfound.html", statusPage{Brand: p.Brand})
		return
	}
	p.Logger.ErrorContext(r.Context(), "status page", "error", err)
	http.Error(w, "Something went wrong on our side; please try again in a moment.", http.StatusInternalServerError)
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.Logger.Error("render page", "page", name, "error", err)
	}
}
