package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/testenv"
)

// fuzzRoutes are the operations FuzzBodies posts to: the public ones
// anyone can reach, and a few operators' ones that take a body, with the
// caller each needs.
var fuzzRoutes = []struct {
	method, path string
	role         wod.Role // "" for anonymous
}{
	{"POST", "/api/v1/registrations", ""},
	{"POST", "/api/v1/registrations/resend-link", ""},
	{"POST", "/api/v1/login", ""},
	{"POST", "/api/v1/users", wod.RoleAdmin},
	{"POST", "/api/v1/tokens", wod.RoleAdmin},
	{"POST", "/api/v1/locations", wod.RoleAdmin},
	{"PATCH", "/api/v1/locations/local", wod.RoleAdmin},
	{"POST", "/api/v1/workshops", wod.RoleAdmin},
	{"PATCH", "/api/v1/workshops/WKSHP-API101", wod.RoleModerator},
	{"POST", "/api/v1/announcements", wod.RoleModerator},
}

// FuzzBodies sends fuzzed JSON bodies to the API, in process, on SQLite:
// whatever the body, the answer is not a server error (5xx) nor a panic,
// and it is JSON (a problem document when refused) unless it is empty.
func FuzzBodies(f *testing.F) {
	for i, body := range []string{
		`{"workshop": "WKSHP-API101", "name": "Ann Smith", "email": " Ann@Example.com ", "company": "ACME"}`,
		`{"workshop": `, `{"workshop": 7, "name": "x", "email": "x@example.com"}`,
		`{"email": "ann@example.com"}`,
		`{"username": "ada", "password": "a-long-password-1"}`,
		`{"username": "ada", "role": "moderator", "password": "a-long-password-1"}`,
		`{"name": "ci", "role": "moderator", "expires_in": "1h"}`,
		`{"name": "hub2.example.com", "hub_url": "https://hub2.example.com", "students": 5}`,
		`{"students": 8, "hub_url": "http://hub.test:8000/"}`,
		`{"slug": "WKSHP-GIT101", "title": "Git 101", "duration": "2", "capacity": 3}`,
		`{"active": true, "duration": "4", "limits": {"memory": 2147483648, "tasks": 256}}`,
		`{"message": "Room 2 at noon"}`,
		`null`, `[]`, `""`, `{"a": {"b": [1e999]}}`, "{\"name\": \"\\u0000\"}",
	} {
		f.Add(uint8(i), []byte(body))
	}
	clock := storetest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	db := storetest.Open(f, store.SQLite, clock)
	handler, tokens := fuzzAPI(f, db, clock)
	// The setup is live: a participant registers and a moderator announces.
	for _, ok := range []struct {
		route int
		body  string
	}{{0, `{"workshop": "WKSHP-API101", "name": "Ann", "email": "ann@example.com"}`}, {9, `{"message": "Hello"}`}} {
		r := fuzzRoutes[ok.route]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader([]byte(ok.body)))
		req.Header.Set("Content-Type", "application/json")
		if r.role != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[r.role])
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			f.Fatalf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		defer testenv.StopHang(body)()
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.7:4242"
		if r.role != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[r.role])
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		res := rec.Result()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, res.StatusCode, out)
		}
		if len(out) > 0 && !json.Valid(out) {
			t.Fatalf("%s %s with %q: %d and not JSON: %s", r.method, r.path, body, res.StatusCode, out)
		}
	})
}

// fuzzAPI builds the API as the other tests do (newEnv), with one location
// and workshop, and bearer tokens by role; registrations are not rate
// limited.
func fuzzAPI(f *testing.F, db *store.DB, clock *storetest.Clock) (http.Handler, map[wod.Role]string) {
	e := newEnv(f, db, clock, 0)
	return e.handler, map[wod.Role]string{wod.RoleAdmin: e.admin, wod.RoleModerator: e.mod}
}
