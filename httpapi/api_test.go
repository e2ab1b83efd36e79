package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// env is a real API on a real store, reached over HTTP.
type env struct {
	t        testing.TB
	handler  http.Handler
	db       *store.DB
	srv      *httptest.Server
	keys     *secret.Keys
	clock    *storetest.Clock
	eng      *engine.Engine
	loc      *wod.Location
	admin    string // bearer tokens
	mod      string
	workshop *wod.Workshop
	ops      *operator.Service
}

func newEnv(t testing.TB, db *store.DB, clock *storetest.Clock, rate int, opts ...func(*httpapi.Server)) *env {
	t.Helper()
	ctx := context.Background()
	keys, err := secret.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test"}, "")
	if err != nil {
		t.Fatal(err)
	}
	eng := &engine.Engine{Store: db, Policy: emailpolicy.New([]string{"@denied.example"}, nil), Composer: renderer,
		Keys: keys, Clock: clock, Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: 10 * time.Minute,
		RemindBefore: time.Hour, AgentLease: time.Minute, Worker: "test"}
	ops := &operator.Service{Users: db, Tokens: db, Announcements: db, Workshops: db, Locations: db, LTI: db, Jobs: db,
		Events: db, Clock: clock, Logger: logger, AgentTokens: db, Webhooks: db, WebhookKeys: keys,
		Passwords: secret.CheapHasher()}
	api := &httpapi.Server{Webhooks: db, Workshops: db, Locations: db, Seats: db, Registrations: db, Registrar: eng, Jobs: db, Operator: ops,
		Agents: eng, AgentAuth: db, LTI: db, Backends: eng,
		Mails: db, Users: db, Tokens: db, Sessions: db, Events: db, Announcements: db, Health: db, Keys: keys,
		Clock: clock, Logger: logger, PublicURL: "http://wod.test", Version: "test", RegistrationRate: rate}
	e := &env{t: t, db: db, keys: keys, clock: clock, eng: eng, ops: ops}
	for _, o := range opts {
		o(api)
	}
	e.handler = api.Handler()
	e.srv = httptest.NewServer(e.handler)
	t.Cleanup(e.srv.Close)

	l := &wod.Location{Name: "local", HubURL: "http://hub.test:8000", Students: 10, BaseStudentID: 100}
	if err := db.CreateLocation(ctx, l); err != nil {
		t.Fatal(err)
	}
	e.loc = l
	e.workshop = &wod.Workshop{Slug: "WKSHP-API101", Title: "API 101", Duration: wod.Duration(2 * time.Hour),
		Capacity: 3, SeatMin: 1, SeatMax: 3, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone,
		SessionType: wod.SessionWorkshop}
	if err := db.CreateWorkshop(ctx, e.workshop); err != nil {
		t.Fatal(err)
	}
	for role, dst := range map[wod.Role]*string{wod.RoleAdmin: &e.admin, wod.RoleModerator: &e.mod} {
		_, secretTok, err := ops.CreateToken(ctx, &wod.Caller{Name: "test", Role: wod.RoleAdmin},
			operator.TokenSpec{Name: string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		*dst = secretTok
	}
	return e
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request; auth is a bearer token, a "cookie:" value, or "".
func (e *env) do(method, path, auth string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(auth, "cookie:"):
		req.Header.Set("Cookie", strings.TrimPrefix(auth, "cookie:"))
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	r := response{status: res.StatusCode, header: res.Header}
	r.raw, _ = io.ReadAll(res.Body)
	json.Unmarshal(r.raw, &r.body)
	return r
}

// ready makes the agent's create job of the next pending registration
// succeed with the password, as the location's agent reports it.
func (e *env) ready(password string) {
	e.t.Helper()
	ctx := context.Background()
	j, err := e.eng.ClaimJob(ctx, e.loc.ID, "agent", 0)
	if err != nil || j == nil || j.Kind != wod.JobCreate {
		e.t.Fatalf("claim create: %+v %v", j, err)
	}
	if err := e.eng.ReportJob(ctx, e.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, OK: true, Password: password}); err != nil {
		e.t.Fatal(err)
	}
}

func registration(workshop, name, email string) map[string]any {
	return map[string]any{"workshop": workshop, "name": name, "email": email, "company": "ACME"}
}

// TestEveryProtectedRouteRefusesStrangers walks the OpenAPI document: every
// route that changes something is public only if it is on the short list
// below, and every route that needs a role refuses anonymous callers (401)
// and, where it needs admin, moderators (403).
func TestEveryProtectedRouteRefusesStrangers(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		public := map[string]bool{
			"POST /api/v1/registrations": true, // participants register without an account
			"POST /api/v1/login":         true, // the way to get a session
			// a participant who lost the mail asks for their link again
			"POST /api/v1/registrations/resend-link": true,
			// the participant's "end now", through the signed link
			"POST /api/v1/status/{token}/end":    true,
			"POST /api/v1/status/{token}/leave":  true,
			"POST /api/v1/status/{token}/extend": true,
			// a forge's push, signed with the content hook secret (content_test.go)
			"POST /api/v1/content/hook": true,
		}
		doc := e.do("GET", "/api/v1/openapi.json", "", nil)
		if doc.status != 200 {
			t.Fatalf("openapi.json: %d", doc.status)
		}
		var spec struct {
			Paths map[string]map[string]struct {
				Security []map[string][]string `json:"security"`
				Role     string                `json:"x-wod-role"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(doc.raw, &spec); err != nil {
			t.Fatal(err)
		}
		checked, mutating := 0, 0
		for path, ops := range spec.Paths {
			for method, op := range ops {
				method = strings.ToUpper(method)
				key := method + " " + path
				concrete := strings.NewReplacer("{slug}", "WKSHP-API101", "{id}", "1", "{name}", "local",
					"{token}", "1.x", "{delivery}", "1").Replace(path)
				if method != "GET" {
					mutating++
					if public[key] {
						if len(op.Security) != 0 {
							t.Errorf("%s is listed public but declares security", key)
						}
						continue
					}
					if len(op.Security) == 0 || op.Role == "" {
						t.Errorf("%s changes state but needs no authentication", key)
						continue
					}
				} else if op.Role == "" {
					continue
				}
				if r := e.do(method, concrete, "", map[string]any{}); r.status != 401 || r.body["code"] != "unauthorized" {
					t.Errorf("%s anonymous: %d %s, want 401", key, r.status, r.raw)
				}
				if r := e.do(method, concrete, "wod_forged", map[string]any{}); r.status != 401 {
					t.Errorf("%s with a forged token: %d, want 401", key, r.status)
				}
				if op.Role == "agent" {
					if r := e.do(method, concrete, e.admin, map[string]any{}); r.status != 401 {
						t.Errorf("%s with an operator's token: %d, want 401 (agents use their location's token)", key, r.status)
					}
				}
				if op.Role == "admin" {
					if r := e.do(method, concrete, e.mod, map[string]any{}); r.status != 403 || r.body["code"] != "forbidden" {
						t.Errorf("%s as moderator: %d %s, want 403", key, r.status, r.raw)
					}
				}
				checked++
			}
		}
		t.Logf("walked %d mutating and %d protected routes", mutating, checked)
		if mutating < 15 || checked < 20 {
			t.Fatalf("walked only %d mutating and %d protected routes: is the document complete?", mutating, checked)
		}
	})
}

func TestRegistrationAnswers(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann Smith", " Ann@Example.com "))
		if r.status != 201 || r.body["state"] != "pending" || r.body["workshop"] != "WKSHP-API101" {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		statusURL, _ := r.body["status_url"].(string)
		if !strings.HasPrefix(statusURL, "http://wod.test/status/") {
			t.Fatalf("status_url %q", statusURL)
		}
		statusAPI := "/api/v1/status/" + strings.TrimPrefix(statusURL, "http://wod.test/status/")
		id := int64(r.body["id"].(float64))

		// Already registered: a stranger who types the address hears so and
		// is offered the lost-link route, which mails the link to the
		// address; when the session ends is for operators (and the status
		// link) only.
		r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann", "ann@example.com"))
		if r.status != 409 || r.body["code"] != "already_registered" ||
			r.body["resend_link"] != "http://wod.test/api/v1/registrations/resend-link" ||
			!strings.Contains(r.body["message"].(string), "/api/v1/registrations/resend-link") {
			t.Fatalf("already registered: %d %s", r.status, r.raw)
		}
		if _, ok := r.body["ends_at"]; ok || strings.Contains(string(r.raw), "2026-11-23") {
			t.Fatalf("an anonymous caller learns when the session ends: %s", r.raw)
		}
		r = e.do("POST", "/api/v1/registrations", e.mod, registration("WKSHP-API101", "Ann", "ann@example.com"))
		if r.status != 409 || r.body["code"] != "already_registered" || r.body["ends_at"] != "2026-11-23T11:00:00Z" {
			t.Fatalf("already registered, to an operator: %d %s", r.status, r.raw)
		}
		// Bad input: every problem at once, per field.
		r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-Nope", "", "x@mailinator.com"))
		if r.status != 422 || r.body["code"] != "invalid" {
			t.Fatalf("bad input: %d %s", r.status, r.raw)
		}
		fields := map[string]string{}
		for _, f := range r.body["errors"].([]any) {
			m := f.(map[string]any)
			fields[m["field"].(string)] = m["message"].(string)
		}
		if !strings.Contains(fields["email"], "disposable") || fields["name"] == "" || !strings.Contains(fields["workshop"], "WKSHP-Nope") {
			t.Fatalf("field errors: %v", fields)
		}
		for _, bad := range []string{"not-an-email", "a@b", "x@denied.example", "two@@example.com"} {
			r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "X", bad))
			if r.status != 422 || !strings.Contains(string(r.raw), `"field":"email"`) {
				t.Fatalf("address %q: %d %s", bad, r.status, r.raw)
			}
		}
		// Malformed JSON and wrong types are 422s with the same shape, not 500s.
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/registrations", strings.NewReader(`{"workshop": `))
		req.Header.Set("Content-Type", "application/json")
		res, _ := http.DefaultClient.Do(req)
		var eb map[string]any
		json.NewDecoder(res.Body).Decode(&eb)
		res.Body.Close()
		if res.StatusCode >= 500 || eb["code"] != "invalid" {
			t.Fatalf("malformed JSON: %d %v", res.StatusCode, eb)
		}
		r = e.do("POST", "/api/v1/registrations", "", map[string]any{"workshop": 7, "name": "x", "email": "x@example.com"})
		if r.status != 422 {
			t.Fatalf("wrong type: %d %s", r.status, r.raw)
		}

		// Two more fill the three seats; the next hears "full", not "already registered".
		for i := range 2 {
			if r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "P", fmt.Sprintf("p%d@example.com", i))); r.status != 201 {
				t.Fatalf("registration %d: %d %s", i, r.status, r.raw)
			}
		}
		r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Late", "late@example.com"))
		if r.status != 409 || r.body["code"] != "full" || r.body["ends_at"] != nil {
			t.Fatalf("full: %d %s", r.status, r.raw)
		}
		w := e.do("GET", "/api/v1/workshops/WKSHP-API101", "", nil)
		if w.body["seats_free"].(float64) != 0 {
			t.Fatalf("seats_free after filling: %v", w.body["seats_free"])
		}

		// The operator's view: seat, user name, login URL; the password once ready.
		r = e.do("GET", fmt.Sprintf("/api/v1/registrations/%d", id), e.mod, nil)
		seat, _ := r.body["seat"].(map[string]any)
		if r.status != 200 || r.body["username"] != "student1" || seat["student_id"].(float64) != 101 ||
			r.body["login_url"] != "http://hub.test:8000/hub/login" || r.body["password"] != nil || r.body["email"] != "ann@example.com" {
			t.Fatalf("get registration: %d %s", r.status, r.raw)
		}
		e.ready("Secret-Pass-1")
		r = e.do("GET", fmt.Sprintf("/api/v1/registrations/%d", id), e.mod, nil)
		if r.body["password"] != "Secret-Pass-1" || r.body["state"] != "ready" {
			t.Fatalf("ready registration: %s", r.raw)
		}
		if strings.Contains(string(r.raw), "password_enc") {
			t.Fatalf("encrypted password leaked: %s", r.raw)
		}
		r = e.do("GET", "/api/v1/registrations?state=ready&workshop=WKSHP-API101", e.mod, nil)
		if r.body["total"].(float64) != 1 {
			t.Fatalf("filtered list: %s", r.raw)
		}
		// The participant's signed link shows the same credentials; a forged one shows nothing.
		r = e.do("GET", statusAPI, "", nil)
		if r.status != 200 || r.body["password"] != "Secret-Pass-1" || r.body["username"] != "student1" || r.body["title"] != "API 101" {
			t.Fatalf("status: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/status/%d.forged", id), "", nil); r.status != 404 {
			t.Fatalf("forged status link: %d", r.status)
		}
		// Its jobs only: create and watchdog from booking, expire and remind
		// from the ready step (the other registrations have theirs).
		r = e.do("GET", "/api/v1/jobs?registration="+fmt.Sprint(id), e.mod, nil)
		var kinds []string
		for _, j := range r.body["items"].([]any) {
			if m := j.(map[string]any); m["registration_id"].(float64) == float64(id) {
				kinds = append(kinds, m["kind"].(string))
			}
		}
		slices.Sort(kinds)
		if r.body["total"].(float64) != 4 || !slices.Equal(kinds, []string{"create", "expire", "remind", "watchdog"}) {
			t.Fatalf("jobs of the registration: %s", r.raw)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 2)
		codes := []int{}
		var last response
		for i := range 3 {
			last = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "P", fmt.Sprintf("r%d@example.com", i)))
			codes = append(codes, last.status)
		}
		if codes[0] != 201 || codes[1] != 201 || codes[2] != 429 {
			t.Fatalf("statuses %v, want 201 201 429", codes)
		}
		if last.body["code"] != "rate_limited" || last.header.Get("Retry-After") == "" {
			t.Fatalf("429 answer: %s %v", last.raw, last.header)
		}
		// An operator registering for others is not limited: where an
		// anonymous caller gets 429, the operator's request reaches the
		// registration itself (here: that address is registered already).
		if r := e.do("POST", "/api/v1/registrations", e.mod, registration("WKSHP-API101", "P", "r0@example.com")); r.status != 409 || r.body["code"] != "already_registered" {
			t.Fatalf("operator's registration: %d %s", r.status, r.raw)
		}
		clock.Advance(time.Minute)
		if r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "P", "later@example.com")); r.status != 201 {
			t.Fatalf("after a minute: %d %s", r.status, r.raw)
		}
	})
}

func TestLoginSessionsAndThrottling(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		r := e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "ada", "role": "moderator", "password": "a-long-password-1"})
		if r.status != 201 || r.body["password"] != nil || r.body["password_hash"] != nil {
			t.Fatalf("create user: %d %s", r.status, r.raw)
		}
		r = e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "gen", "role": "admin"})
		if r.status != 201 || len(r.body["password"].(string)) < 12 {
			t.Fatalf("generated password: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "weak", "role": "admin", "password": "short"}); r.status != 422 {
			t.Fatalf("weak password: %d", r.status)
		}

		r = e.do("POST", "/api/v1/login", "", map[string]any{"username": "ada", "password": "a-long-password-1"})
		cookie := r.header.Get("Set-Cookie")
		if r.status != 200 || !strings.Contains(cookie, "wod_session=") || !strings.Contains(cookie, "HttpOnly") {
			t.Fatalf("login: %d %s %q", r.status, r.raw, cookie)
		}
		session := "cookie:" + strings.Split(cookie, ";")[0]
		if r := e.do("GET", "/api/v1/me", session, nil); r.body["name"] != "ada" || r.body["role"] != "moderator" {
			t.Fatalf("me: %s", r.raw)
		}
		if r := e.do("GET", "/api/v1/users", session, nil); r.status != 403 {
			t.Fatalf("moderator session on an admin route: %d", r.status)
		}
		if r := e.do("POST", "/api/v1/logout", session, nil); r.status != 204 {
			t.Fatalf("logout: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/me", session, nil); r.status != 401 {
			t.Fatalf("session after logout: %d", r.status)
		}

		// Five wrong passwords are answered 401; then the name is locked (429),
		// even with the right password, until the lock runs out.
		for i := range 5 {
			if r := e.do("POST", "/api/v1/login", "", map[string]any{"username": "ada", "password": "wrong"}); r.status != 401 {
				t.Fatalf("failure %d: %d", i, r.status)
			}
		}
		e.do("POST", "/api/v1/login", "", map[string]any{"username": "ada", "password": "wrong"})
		r = e.do("POST", "/api/v1/login", "", map[string]any{"username": "ada", "password": "a-long-password-1"})
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("locked login: %d %s", r.status, r.raw)
		}
		clock.Advance(2 * time.Minute)
		if r := e.do("POST", "/api/v1/login", "", map[string]any{"username": "ada", "password": "a-long-password-1"}); r.status != 200 {
			t.Fatalf("after the lock: %d %s", r.status, r.raw)
		}
		// An unknown user is a plain 401, like a wrong password.
		if r := e.do("POST", "/api/v1/login", "", map[string]any{"username": "nobody", "password": "x"}); r.status != 401 {
			t.Fatalf("unknown user: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/events?kind=login.failed", e.mod, nil); r.body["total"].(float64) < 6 {
			t.Fatalf("failed logins are audited: %s", r.raw)
		}
	})
}

func TestOperatorCRUD(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		// Workshops: create by hand, change (recorded as an override), list all.
		r := e.do("POST", "/api/v1/workshops", e.admin, map[string]any{"slug": "WKSHP-GIT101", "title": "Git 101",
			"duration": "90s", "seat_min": 4, "seat_max": 6})
		if r.status != 201 || r.body["duration"] != "1m30s" || r.body["capacity"].(float64) != 3 || r.body["location"] != "local" || r.body["active"] != false {
			t.Fatalf("create workshop: %d %s", r.status, r.raw)
		}
		r = e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"active": true, "duration": "4"})
		if r.status != 200 || r.body["active"] != true || r.body["duration"] != "4h" {
			t.Fatalf("patch workshop: %d %s", r.status, r.raw)
		}
		if ov := fmt.Sprint(r.body["overrides"]); ov != "[active duration]" {
			t.Fatalf("overrides %s", ov)
		}
		if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"duration": "soon"}); r.status != 422 {
			t.Fatalf("bad duration: %d %s", r.status, r.raw)
		}
		if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"seat_max": 99}); r.status != 422 {
			t.Fatalf("range beyond location: %d %s", r.status, r.raw)
		}
		r = e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"limits": map[string]any{"memory": 2 << 30, "tasks": 256}})
		if limits := fmt.Sprint(r.body["limits"]); r.status != 200 || limits != "map[memory:2.147483648e+09 tasks:256]" {
			t.Fatalf("patch limits: %d %s", r.status, r.raw)
		}
		if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"limits": map[string]any{"tasks": 3}}); r.status != 422 ||
			!strings.Contains(string(r.raw), "limits.tasks") {
			t.Fatalf("3 tasks: %d %s", r.status, r.raw)
		}
		// The warm pool: a number or "auto", kept as an override.
		if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"warm": 2}); r.status != 200 ||
			r.body["warm"].(float64) != 2 || !strings.Contains(fmt.Sprint(r.body["overrides"]), "warm") {
			t.Fatalf("patch warm 2: %d %s", r.status, r.raw)
		}
		if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"warm": "auto"}); r.status != 200 || r.body["warm"] != "auto" {
			t.Fatalf("patch warm auto: %d %s", r.status, r.raw)
		}
		for _, bad := range []any{"lots", -1, 5000} {
			if r := e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"warm": bad}); r.status != 422 ||
				!strings.Contains(string(r.raw), "warm") {
				t.Fatalf("warm %v: %d %s", bad, r.status, r.raw)
			}
		}
		if r := e.do("GET", "/api/v1/workshops?all=true", "", nil); r.status != 401 {
			t.Fatalf("all=true anonymously: %d", r.status)
		}
		e.do("PATCH", "/api/v1/workshops/WKSHP-GIT101", e.mod, map[string]any{"active": false})
		if r := e.do("GET", "/api/v1/workshops", "", nil); r.body["total"].(float64) != 1 {
			t.Fatalf("public list shows inactive workshops: %s", r.raw)
		}
		if r := e.do("GET", "/api/v1/workshops/WKSHP-GIT101", "", nil); r.status != 404 {
			t.Fatalf("inactive workshop is public: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/workshops?all=true", e.mod, nil); r.body["total"].(float64) != 2 {
			t.Fatalf("operators see all: %s", r.raw)
		}
		if r := e.do("DELETE", "/api/v1/workshops/WKSHP-GIT101", e.admin, nil); r.status != 204 {
			t.Fatalf("delete workshop: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/workshops/import", e.admin, nil); r.status != 422 {
			t.Fatalf("import without content dirs: %d %s", r.status, r.raw)
		}

		// Locations.
		r = e.do("POST", "/api/v1/locations", e.admin, map[string]any{"name": "hub2.example.com", "hub_url": "https://hub2.example.com", "students": 5})
		if r.status != 201 {
			t.Fatalf("create location: %d %s", r.status, r.raw)
		}
		if r := e.do("PATCH", "/api/v1/locations/hub2.example.com", e.admin, map[string]any{"students": 8}); r.body["students"].(float64) != 8 {
			t.Fatalf("grow location: %s", r.raw)
		}
		if r := e.do("GET", "/api/v1/seats?location=hub2.example.com", e.mod, nil); r.body["total"].(float64) != 8 {
			t.Fatalf("seats of the new location: %s", r.raw)
		}
		if r := e.do("POST", "/api/v1/locations", e.admin, map[string]any{"name": "Bad Name!", "students": 5}); r.status != 422 {
			t.Fatalf("bad location: %d", r.status)
		}
		if r := e.do("DELETE", "/api/v1/locations/hub2.example.com", e.admin, nil); r.status != 204 {
			t.Fatalf("delete location: %d %s", r.status, r.raw)
		}
		if r := e.do("DELETE", "/api/v1/locations/local", e.admin, nil); r.status != 409 {
			t.Fatalf("delete used location: %d %s", r.status, r.raw)
		}

		// Tokens: the secret once, then only the prefix; revoked tokens stop working.
		r = e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": "ci", "role": "moderator", "expires_in": "1h"})
		tok, _ := r.body["token"].(string)
		if r.status != 201 || !strings.HasPrefix(tok, "wod_") || r.body["expires_at"] == nil {
			t.Fatalf("create token: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/tokens", e.admin, nil); strings.Contains(string(r.raw), tok) {
			t.Fatalf("token list shows the secret")
		}
		if r := e.do("GET", "/api/v1/mails", tok, nil); r.status != 200 {
			t.Fatalf("new token: %d", r.status)
		}
		e.do("DELETE", fmt.Sprintf("/api/v1/tokens/%d", int(r.body["id"].(float64))), e.admin, nil)
		if r := e.do("GET", "/api/v1/mails", tok, nil); r.status != 401 {
			t.Fatalf("revoked token: %d", r.status)
		}

		// Announcements: public while showing.
		if r := e.do("POST", "/api/v1/announcements", e.mod, map[string]any{"message": "Room 2 at noon"}); r.status != 201 {
			t.Fatalf("announce: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/announcements", "", nil); !strings.Contains(string(r.raw), "Room 2 at noon") {
			t.Fatalf("announcements: %s", r.raw)
		}
		if r := e.do("GET", "/api/v1/events?kind=workshop.update", e.mod, nil); r.body["total"].(float64) < 2 {
			t.Fatalf("operator changes are audited: %s", r.raw)
		}
	})
}

func TestHealthAndDocs(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
			t.Fatalf("healthz: %d", r.status)
		}
		if r := e.do("GET", "/readyz", "", nil); r.status != 200 || r.body["status"] != "ready" {
			t.Fatalf("readyz: %d %s", r.status, r.raw)
		}
		r := e.do("GET", "/api/docs", "", nil)
		if r.status != 200 || !strings.Contains(string(r.raw), "/api/v1/registrations") || strings.Contains(string(r.raw), "https://") {
			t.Fatalf("docs page: %d (it must list the routes and load nothing from elsewhere)", r.status)
		}
		if r := e.do("GET", "/api/v1/nope", "", nil); r.status != 404 || r.body["code"] != "not_found" {
			t.Fatalf("unknown route: %d %s", r.status, r.raw)
		}
		db.Close()
		if r := e.do("GET", "/readyz", "", nil); r.status != 503 {
			t.Fatalf("readyz with the database closed: %d", r.status)
		}
	})
}

// TestAgentProtocolAndActions runs a registration through the agent
// protocol over HTTP, with the operators' actions on the way.
func TestAgentProtocolAndActions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		ctx := context.Background()
		r := e.do("POST", "/api/v1/locations/local/agent-token", e.admin, nil)
		token, _ := r.body["token"].(string)
		if r.status != 201 || !strings.HasPrefix(token, "wod_") {
			t.Fatalf("agent token: %d %s", r.status, r.raw)
		}
		ag := &agent.Client{BaseURL: e.srv.URL, Token: token}
		if job, err := ag.Claim(ctx, 0); err != nil || job != nil {
			t.Fatalf("claim with nothing to do: %+v %v", job, err)
		}
		if _, err := (&agent.Client{BaseURL: e.srv.URL, Token: e.admin}).Claim(ctx, 0); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("claim with an operator's token: %v", err)
		}

		reg := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann", "ann@example.com"))
		id := int64(reg.body["id"].(float64))
		job, err := ag.Claim(ctx, 0)
		if err != nil || job == nil || job.Kind != wod.JobCreate || job.Username != "student1" || job.StudentID != 101 {
			t.Fatalf("claim: %+v %v", job, err)
		}
		if err := ag.Report(ctx, job.ID, wod.AgentResult{Attempt: job.Attempt + 1, OK: true, Password: "x"}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("report with the wrong attempt: %v", err)
		}
		if err := ag.Report(ctx, job.ID, wod.AgentResult{Attempt: job.Attempt, OK: true, Password: "Pass-Word-9"}); err != nil {
			t.Fatal(err)
		}
		if err := ag.Heartbeat(ctx, wod.AgentHeartbeat{Health: `{"load":0.5}`}); err != nil {
			t.Fatal(err)
		}
		// The seats the guard spares, and the warm ones whose servers the
		// agent keeps running (none: this workshop keeps no pool).
		if held, err := ag.HeldSeats(ctx); err != nil || len(held) != 1 || held[0] != 1 {
			t.Fatalf("held seats: %v %v", held, err)
		}
		if warm, err := ag.WarmSeats(ctx); err != nil || warm == nil || len(warm) != 0 {
			t.Fatalf("warm seats: %v (nil %v) %v", warm, warm == nil, err)
		}
		// The announcements for the hub's pages, read with the agent's client.
		if a := e.do("POST", "/api/v1/announcements", e.mod, map[string]any{"message": "Hub restart at noon", "level": "warning"}); a.status != 201 {
			t.Fatalf("announcement: %d %s", a.status, a.raw)
		}
		if as, err := ag.Announcements(ctx); err != nil || len(as) != 1 || as[0].Message != "Hub restart at noon" || as[0].Level != "warning" {
			t.Fatalf("announcements for the hub: %+v %v", as, err)
		}
		if l := e.do("GET", "/api/v1/locations/local", e.mod, nil); l.body["last_heartbeat"] == nil || l.body["health"] != `{"load":0.5}` {
			t.Fatalf("heartbeat: %s", l.raw)
		}
		path := fmt.Sprintf("/api/v1/registrations/%d", id)
		v := e.do("GET", path, e.mod, nil)
		if v.body["state"] != "ready" || v.body["password"] != "Pass-Word-9" {
			t.Fatalf("after create: %s", v.raw)
		}
		ends, _ := time.Parse(time.RFC3339Nano, v.body["ends_at"].(string))

		v = e.do("POST", path+"/extend", e.mod, map[string]any{"by": "30m"})
		if got, _ := time.Parse(time.RFC3339Nano, v.body["ends_at"].(string)); v.status != 200 || !got.Equal(ends.Add(30*time.Minute)) {
			t.Fatalf("extend: %d %s", v.status, v.raw)
		}
		if v := e.do("POST", path+"/extend", e.mod, map[string]any{"by": "forever"}); v.status != 422 {
			t.Fatalf("bad extension: %d", v.status)
		}
		if v := e.do("POST", path+"/resend", e.mod, nil); v.status != 200 {
			t.Fatalf("resend: %d %s", v.status, v.raw)
		}
		if m := e.do("GET", fmt.Sprintf("/api/v1/mails?registration=%d&kind=credentials", id), e.mod, nil); m.body["total"].(float64) != 1 ||
			strings.Contains(string(m.raw), "Pass-Word-9") {
			t.Fatalf("the outbox must hold the credentials mail without the password: %s", m.raw)
		}
		if v := e.do("POST", path+"/end", e.mod, nil); v.status != 200 || v.body["state"] != "ending" {
			t.Fatalf("end: %d %s", v.status, v.raw)
		}
		if v := e.do("POST", path+"/end", e.mod, nil); v.status != 409 {
			t.Fatalf("end twice: %d", v.status)
		}
		job, _ = ag.Claim(ctx, 0)
		if job == nil || job.Kind != wod.JobCleanup {
			t.Fatalf("cleanup job: %+v", job)
		}
		done := 40
		if err := ag.Report(ctx, job.ID, wod.AgentResult{Attempt: job.Attempt, OK: true, Completion: &done}); err != nil {
			t.Fatal(err)
		}
		if v := e.do("GET", path, e.mod, nil); v.body["state"] != "done" || v.body["completion"].(float64) != 40 || v.body["password"] != nil {
			t.Fatalf("after cleanup: %s", v.raw)
		}

		// The participant's own "end now", through the signed link.
		reg = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Bo", "bo@example.com"))
		tok := strings.TrimPrefix(reg.body["status_url"].(string), "http://wod.test/status/")
		if v := e.do("POST", "/api/v1/status/"+tok+"x/end", "", nil); v.status != 404 {
			t.Fatalf("forged end link: %d", v.status)
		}
		if v := e.do("POST", "/api/v1/status/"+tok+"/end", "", nil); v.status != 200 || v.body["state"] != "ending" {
			t.Fatalf("participant end: %d %s", v.status, v.raw)
		}
		// Purge takes the seat back whatever happened.
		bo := int64(reg.body["id"].(float64))
		if v := e.do("POST", fmt.Sprintf("/api/v1/registrations/%d/purge", bo), e.mod, nil); v.status != 200 || v.body["state"] != "failed" {
			t.Fatalf("purge: %d %s", v.status, v.raw)
		}
		// A new token replaces the old one.
		e.do("POST", "/api/v1/locations/local/agent-token", e.admin, nil)
		if err := ag.Heartbeat(ctx, wod.AgentHeartbeat{}); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("old agent token: %v", err)
		}
	})
}

func TestResendLinkRoute(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		if r := e.do("POST", "/api/v1/registrations/resend-link", "", map[string]string{"email": "someone@example.com"}); r.status != 202 {
			t.Fatalf("resend-link: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/registrations/resend-link", "", map[string]string{"email": "nope"}); r.status != 422 ||
			!strings.Contains(string(r.raw), "email") {
			t.Fatalf("bad address: %d %s", r.status, r.raw)
		}
	})
}

func TestDismissJobs(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		ctx := context.Background()
		loc := e.workshop.LocationID
		failed := []int64{storetest.FailedJob(t, db, wod.JobReset, loc, "hub down").ID,
			storetest.FailedJob(t, db, wod.JobReset, loc, "hub down").ID}
		waiting := &wod.Job{Kind: wod.JobReset, LocationID: &loc, RunAt: clock.Now().Add(time.Hour)}
		if err := db.ScheduleJobs(ctx, []*wod.Job{waiting}); err != nil {
			t.Fatal(err)
		}

		one := fmt.Sprintf("/api/v1/jobs/%d/dismiss", failed[0])
		if r := e.do("POST", one, "", nil); r.status != 401 {
			t.Fatalf("anonymous dismiss: %d", r.status)
		}
		if r := e.do("POST", one, e.mod, nil); r.status != 200 || r.body["dismissed"].(float64) != 1 {
			t.Fatalf("dismiss: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", fmt.Sprintf("/api/v1/jobs/%d/dismiss", waiting.ID), e.mod, nil); r.status != 409 {
			t.Fatalf("dismiss a waiting job: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/jobs/424242/dismiss", e.mod, nil); r.status != 404 {
			t.Fatalf("dismiss no job: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", fmt.Sprintf("/api/v1/jobs/%d/retry", failed[1]), e.mod, nil); r.status != 200 ||
			r.body["state"] != "queued" || r.body["attempts"].(float64) != 0 {
			t.Fatalf("retry: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", fmt.Sprintf("/api/v1/jobs/%d/retry", failed[1]), e.mod, nil); r.status != 409 {
			t.Fatalf("retry a queued job: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/jobs/dismiss", e.mod, nil); r.status != 200 || r.body["dismissed"].(float64) != 0 {
			t.Fatalf("dismiss all: %d %s", r.status, r.raw)
		}
		r := e.do("GET", "/api/v1/jobs?state=failed", e.mod, nil)
		if r.body["total"].(float64) != 1 {
			t.Fatalf("failed jobs left: %s", r.raw)
		}
		for _, j := range r.body["items"].([]any) {
			if j.(map[string]any)["dismissed_at"] == nil {
				t.Fatalf("a failed job not dismissed: %s", r.raw)
			}
		}
		if r := e.do("GET", "/api/v1/events?kind=job.dismissed", e.mod, nil); r.status != 200 || r.body["total"].(float64) != 1 {
			t.Fatalf("audit: %d %s", r.status, r.raw)
		}
	})
}

// TestAgentReportsChecks: an agent's daily checks reach the server through
// the agent protocol, recorded under its location; a bad verdict is
// refused whole.
func TestAgentReportsChecks(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		ctx := context.Background()
		r := e.do("POST", "/api/v1/locations/local/agent-token", e.admin, nil)
		token, _ := r.body["token"].(string)
		ag := &agent.Client{BaseURL: e.srv.URL, Token: token}
		results := []wod.CheckResult{{Name: "sysctl", Status: wod.CheckFail, Detail: "fs.protected_symlinks = 0"},
			{Name: "time sync", Status: wod.CheckOK, Detail: "synchronised"}}
		if err := ag.ReportChecks(ctx, results); err != nil {
			t.Fatal(err)
		}
		if err := ag.ReportChecks(ctx, []wod.CheckResult{{Name: "sysctl", Status: "fine"}}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("an unknown verdict: %v", err)
		}
		if err := (&agent.Client{BaseURL: e.srv.URL, Token: e.admin}).ReportChecks(ctx, results); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("checks with an operator's token: %v", err)
		}
		cs, err := db.FindHostChecks(ctx)
		if err != nil || len(cs) != 2 || cs[0].Scope != "location:local" || cs[0].Status != wod.CheckFail ||
			cs[0].Detail != "fs.protected_symlinks = 0" {
			t.Fatalf("recorded: %+v %v", cs, err)
		}
		kind := wod.EventCheckFailed
		if es, _, err := db.FindEvents(ctx, wod.EventFilter{Kind: &kind}); err != nil || len(es) != 1 || es[0].Actor != "agent@local" {
			t.Fatalf("events: %+v %v", es, err)
		}
	})
}
