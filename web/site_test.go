package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/web"
)

// site is the whole HTTP side of wod (API and pages, with the API's
// guards) over a real store, for page tests.
type site struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	clock *storetest.Clock
	eng   *engine.Engine
	keys  *secret.Keys
	loc   *wod.Location
	ops   *operator.Service
	pages *web.Pages
	url   string
	// client keeps cookies and does not follow redirects.
	client *http.Client
}

func newSite(t *testing.T, db *store.DB, clock *storetest.Clock) *site {
	t.Helper()
	return newSiteRate(t, db, clock, 0)
}

// newSiteRate is newSite with the registrations' rate limit (per client
// address, per minute; 0: none).
func newSiteRate(t *testing.T, db *store.DB, clock *storetest.Clock, registrationRate int) *site {
	t.Helper()
	ctx := context.Background()
	keys, err := secret.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test"}, "")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := &engine.Engine{Store: db, Policy: emailpolicy.New([]string{"spam.test"}, nil), Composer: renderer, Keys: keys,
		Clock: clock, Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: time.Minute,
		RemindBefore: time.Hour, AgentLease: time.Minute, Worker: "test", NotebookRetention: 24 * time.Hour}
	ops := &operator.Service{Users: db, Tokens: db, Announcements: db, Workshops: db, Locations: db, LTI: db, Jobs: db,
		Events: db, Clock: clock, Logger: logger, AgentTokens: db, RehearsalStore: db, Webhooks: db, WebhookKeys: keys,
		Passwords: secret.CheapHasher()}
	api := &httpapi.Server{Workshops: db, Locations: db, Seats: db, Registrations: db, Registrar: eng, Agents: eng, Operator: ops,
		AgentAuth: db, Jobs: db, Mails: db, Users: db, Tokens: db, Sessions: db, Events: db, Announcements: db,
		Health: db, Keys: keys, Clock: clock, Logger: logger, PublicURL: "http://wod.test", Version: "test",
		RegistrationRate: registrationRate}
	ltiKey, err := lti.LoadOrCreateKey(filepath.Join(t.TempDir(), lti.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tool := &lti.Tool{Platforms: db, Clock: clock, PublicURL: "http://wod.test", Key: ltiKey}
	eng.Grades = tool
	pages := &web.Pages{Workshops: db, Registrations: db, Locations: db, Registrar: eng, Operator: ops, Announcements: db, Stats: db,
		Badges: db, Jobs: db, Mails: db, Users: db, Tokens: db, Events: db, Webhooks: db, Checks: db, Gate: api, Keys: keys,
		Clock: clock, Logger: logger, Brand: web.Branding{Name: "Acme", Color: "#123456", Support: "help@acme.test"},
		Announcement:      "Conference day: all workshops are open",
		NotebookRetention: 24 * time.Hour,
		LTI:               tool}
	srv := httptest.NewServer(api.Handler(pages.Register))
	t.Cleanup(srv.Close)
	l := &wod.Location{Name: "local", HubURL: "http://hub.test", Students: 20}
	if err := db.CreateLocation(ctx, l); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	return &site{t: t, ctx: ctx, db: db, clock: clock, eng: eng, keys: keys, loc: l, ops: ops, pages: pages, url: srv.URL,
		client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// workshop adds an active workshop with seats from..to.
func (s *site) workshop(slug, title string, from, to int, categories ...string) *wod.Workshop {
	s.t.Helper()
	w := &wod.Workshop{Slug: slug, Title: title, Description: "Learn " + title + " hands-on.", Categories: categories,
		Duration: wod.Duration(2 * time.Hour), Capacity: to - from + 1, SeatMin: from, SeatMax: to, LocationID: s.loc.ID,
		Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop, Presenter: "Grace Hopper"}
	if err := s.db.CreateWorkshop(s.ctx, w); err != nil {
		s.t.Fatal(err)
	}
	return w
}

func (s *site) do(method, path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return s.send(req)
}

// send sends a prepared request with the site's client.
func (s *site) send(req *http.Request) (*http.Response, string) {
	s.t.Helper()
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (s *site) get(path string) (int, string) {
	s.t.Helper()
	res, page := s.do(http.MethodGet, path, nil)
	return res.StatusCode, page
}

func (s *site) post(path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	return s.do(http.MethodPost, path, form)
}

// operator creates an operator account.
func (s *site) operator(name string, role wod.Role, password string) *wod.User {
	s.t.Helper()
	hash, err := secret.CheapHasher().Hash(password)
	if err != nil {
		s.t.Fatal(err)
	}
	u := &wod.User{Username: name, Email: name + "@acme.test", Role: role, PasswordHash: hash}
	if err := s.db.CreateUser(s.ctx, u); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// login logs the client in through the login form.
func (s *site) login(name, password string) {
	s.t.Helper()
	res, page := s.post("/admin/login", url.Values{"username": {name}, "password": {password}, "next": {"/admin"}})
	if res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("login as %s: %d %s", name, res.StatusCode, page)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from an admin page.
func (s *site) csrf(path string) string {
	s.t.Helper()
	code, page := s.get(path)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		s.t.Fatalf("no CSRF token on %s (%d): %s", path, code, page)
	}
	return m[1]
}

// cleaned makes the agent's cleanup job succeed with the completion.
func (s *site) cleaned(completion int) {
	s.t.Helper()
	j, err := s.eng.ClaimJob(s.ctx, s.loc.ID, "agent", 0)
	if err != nil || j == nil || j.Kind != wod.JobCleanup {
		s.t.Fatalf("claim cleanup: %+v %v", j, err)
	}
	if err := s.eng.ReportJob(s.ctx, s.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, OK: true, Completion: &completion}); err != nil {
		s.t.Fatal(err)
	}
}

// ready makes the agent's create job succeed for the registration.
func (s *site) ready(password string) {
	s.t.Helper()
	j, err := s.eng.ClaimJob(s.ctx, s.loc.ID, "agent", 0)
	if err != nil || j == nil || j.Kind != wod.JobCreate {
		s.t.Fatalf("claim create: %+v %v", j, err)
	}
	if err := s.eng.ReportJob(s.ctx, s.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, OK: true, Password: password}); err != nil {
		s.t.Fatal(err)
	}
}

func forEach(t *testing.T, fn func(t *testing.T, s *site)) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		fn(t, newSite(t, db, clock))
	})
}
