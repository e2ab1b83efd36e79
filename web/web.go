// Package web serves wod's pages: the participants' portal (catalogue,
// registration, the status page behind the signed link in every mail) and
// the operators' admin pages. They are rendered on the server with
// html/template and work without JavaScript; a little vendored script only
// improves them (live status, countdown, confirmations).
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/login"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
)

//go:embed templates assets
var files embed.FS

// Gate is what the pages need of the API server's guards, shared so that
// there is one login throttle, one session store and one registration rate
// limit whichever door a caller uses.
type Gate interface {
	// Login checks a password under the login guard (package login) and
	// opens a session.
	Login(ctx context.Context, username, password string) (*login.Session, error)
	SessionCookieFor(token string, expires time.Time) *http.Cookie
	SessionCaller(ctx context.Context, token string) (*wod.Caller, error)
	Logout(ctx context.Context, token string) error
	AllowRegistration(ctx context.Context) (bool, time.Duration)
	ClientAddress(ctx context.Context) string
}

// Locations finds a location's hub.
type Locations interface {
	FindLocation(ctx context.Context, name string) (*wod.Location, error)
	FindLocations(ctx context.Context) ([]*wod.Location, error)
}

// Badges counts what a participant has finished, for the badge on the
// status page.
type Badges interface {
	FinishedWorkshops(ctx context.Context, email string) (int, error)
}

// Pages serves the portal and the admin pages.
type Pages struct {
	Workshops     wod.WorkshopService
	Registrations wod.RegistrationReader
	Locations     Locations
	Registrar     wod.Registrar
	// Operator carries out the operators' actions; the admin pages adapt it.
	Operator      *operator.Service
	Announcements wod.AnnouncementService
	Badges        Badges
	Jobs          wod.JobService
	Mails         wod.MailService
	Users         wod.UserService
	Tokens        wod.TokenService
	Events        wod.EventService
	Stats         wod.StatsService
	Webhooks      wod.WebhookService
	// Checks are the daily host checks' verdicts (nil: none shown).
	Checks wod.HostCheckService
	Gate   Gate
	// LTI launches workshops from learning platforms (nil: no LTI).
	LTI    *lti.Tool
	Keys   *secret.Keys
	Clock  wod.Clock
	Logger *slog.Logger

	Brand Branding
	// Announcement is a standing banner from configuration, shown above
	// the operators' announcements.
	Announcement string
	// AgentStale is how long a location's agent may be silent before it
	// gets no new participants (the server's --agent-stale; 0:
	// wod.DefaultAgentStale); the dashboard marks such agents.
	AgentStale time.Duration
	// NotebookRetention is how long participants may download the
	// notebooks they left.
	NotebookRetention time.Duration
	// ContentHookURL and ContentHookSecret are the content repositories'
	// push webhook and its shared secret, shown to admins on the
	// workshops page (empty: the server follows no repository).
	ContentHookURL, ContentHookSecret string

	tmpl map[string]*template.Template
}

// Branding is how the organiser's pages look.
type Branding struct {
	// Name is the organiser (the original's BRANDINGWOD), e.g. "HPE Developer".
	Name string
	// Logo is the URL of a logo image.
	Logo string
	// Color is the accent colour, #rrggbb.
	Color string
	// URL is the organiser's site.
	URL string
	// Support is the address participants may write to.
	Support string
	// Links are shown in the footer (community, social, privacy…).
	Links []Link
}

// Link is a labelled URL.
type Link struct{ Label, URL string }

// Register adds the pages to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	p.tmpl = mustParse()
	assets, _ := fs.Sub(files, "assets")
	static := http.FileServerFS(assets)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", cacheFor(time.Hour, static)))
	mux.HandleFunc("GET /assets/brand.css", p.brandCSS)
	p.registerPortal(mux)
	p.registerStatus(mux)
	p.registerResend(mux)
	p.registerLTI(mux)
	p.registerAdmin(mux)
}

// view is what every page template gets.
type view struct {
	Brand         Branding
	Title         string
	Announcements []*wod.Announcement
	// Caller is the operator on admin pages.
	Caller *wod.Caller
	CSRF   string
	// Section is the admin menu entry to highlight.
	Section string
	Flash   string
	Now     time.Time
	Data    any
}

func (p *Pages) view(ctx context.Context, title string, data any) *view {
	v := &view{Brand: p.Brand, Title: title, Now: p.Clock.Now(), Data: data}
	if p.Announcement != "" {
		v.Announcements = append(v.Announcements, &wod.Announcement{Message: p.Announcement, Level: "info"})
	}
	if p.Announcements != nil {
		now := p.Clock.Now()
		as, err := p.Announcements.FindAnnouncements(ctx, &now)
		if err != nil {
			p.Logger.WarnContext(ctx, "announcements", "error", err)
		}
		v.Announcements = append(v.Announcements, as...)
	}
	return v
}

// render writes a page: the layout around the page's "content".
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	p.execute(w, r, status, page, "layout", v)
}

// execute writes one named template of a page (a fragment for live updates).
func (p *Pages) execute(w http.ResponseWriter, r *http.Request, status int, page, name string, v *view) {
	t, ok := p.tmpl[page]
	if !ok {
		p.Logger.ErrorContext(r.Context(), "no such page template", "page", page)
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		p.Logger.ErrorContext(r.Context(), "render page", "page", page, "error", err)
		http.Error(w, "Something went wrong on our side; please try again in a moment.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Referrer-Policy") == "" {
		h.Set("Referrer-Policy", "same-origin")
	}
	if h.Get("Content-Security-Policy") == "" { // a page may widen it (pagePolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", pagePolicy("'none'", "'self'"))
	}
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

// pagePolicy is the pages' Content-Security-Policy, with who may frame them
// and where their forms may post.
func pagePolicy(frameAncestors, formAction string) string {
	return "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; " +
		"frame-ancestors " + frameAncestors + "; base-uri 'none'; form-action " + formAction
}

// fail shows an error page fitting err: not found, or our fault.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	var v *view
	switch wod.ErrorCode(err) {
	case wod.ENOTFOUND:
		v = p.view(r.Context(), "Not found", wod.ErrorMessage(err))
		p.render(w, r, http.StatusNotFound, "portal/notfound.html", v)
		return
	case wod.EFORBIDDEN:
		v = p.view(r.Context(), "Not allowed", wod.ErrorMessage(err))
		p.render(w, r, http.StatusForbidden, "portal/notfound.html", v)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	p.Logger.ErrorContext(r.Context(), "page", "path", r.URL.Path, "error", err)
	v = p.view(r.Context(), "Something went wrong", "Something went wrong on our side; please try again in a moment.")
	p.render(w, r, http.StatusInternalServerError, "portal/notfound.html", v)
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	p.fail(w, r, wod.Errorf(wod.ENOTFOUND, "%s", msg))
}

// brandCSS carries the accent colour: the pages allow no inline style.
func (p *Pages) brandCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	color := p.Brand.Color
	if !validColor(color) {
		color = DefaultColor
	}
	w.Write([]byte(":root{--brand:" + color + "}\n"))
}

// DefaultColor is the accent colour when the configuration names none.
const DefaultColor = "#01a982"

func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+itoa(int(d/time.Second)))
		h.ServeHTTP(w, r)
	})
}

func mustParse() map[string]*template.Template {
	// The layout and the partials (templates/partials) every page may use.
	base := template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials/*.html"))
	out := map[string]*template.Template{}
	for _, dir := range []string{"portal", "admin"} {
		pages, err := fs.Glob(files, "templates/"+dir+"/*.html")
		if err != nil {
			panic(err)
		}
		for _, page := range pages {
			t := template.Must(template.Must(base.Clone()).ParseFS(files, page))
			out[dir+"/"+path.Base(page)] = t
		}
	}
	return out
}
