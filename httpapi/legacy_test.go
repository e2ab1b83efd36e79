package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// The original frontend's site, a different origin from the API's.
const frontendOrigin = "http://frontend.test:8000"

func withLegacy(s *httpapi.Server) { s.LegacyRoutes = true }

// legacy sends a request as the original's clients do: JSON, the token in
// x-access-token, from the frontend's origin.
func (e *env) legacy(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Origin", frontendOrigin)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	if token != "" {
		req.Header.Set("x-access-token", token)
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

// frontendRegistration is the body the original frontend's registration
// form posts (reference §2.5): the e-mail lower-cased, proxy "wod".
func frontendRegistration(name, email string) map[string]any {
	return map[string]any{"name": name, "email": strings.ToLower(email), "company": "ACME", "title": "API 101",
		"notebook": "WKSHP-API101", "sessionType": "Workshops-on-Demand", "location": "local",
		"termsAndConditions": true, "proxy": "wod"}
}

// TestLegacyFrontendReplay replays the original frontend's calls against
// a wod server with --legacy-routes: the catalogue, a registration, the
// same address again (already registered), a full workshop, a refused
// address, and the unregister dialog, with the token code fixed: the
// participant logs in with the student credentials of the credentials
// mail, reads the customer and the student, and unregisters.
func TestLegacyFrontendReplay(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0, withLegacy)

		// The catalogue page and its cards.
		r := e.legacy("GET", "/api/workshops?active=true", "", nil)
		var list []map[string]any
		if r.status != 200 || json.Unmarshal(r.raw, &list) != nil || len(list) != 1 {
			t.Fatalf("catalogue: %d %s", r.status, r.raw)
		}
		if r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("the frontend's origin may not read the catalogue: %v", r.header)
		}
		w := list[0]
		if w["notebook"] != "WKSHP-API101" || w["name"] != "API 101" || w["sessionType"] != "Workshops-on-Demand" ||
			w["capacity"] != 3.0 || w["active"] != true || w["duration"] != 2.0 || w["location"] != "local" ||
			fmt.Sprint(w["range"]) != "[1 3]" || w["id"] != float64(e.workshop.ID) {
			t.Fatalf("catalogue item: %s", r.raw)
		}
		for _, k := range []string{"popular", "replayId", "replayLink", "presenter", "avatar", "role", "category",
			"workshopImg", "badgeImg", "priority", "updatedAt", "description", "preRequisite", "reset", "beta"} {
			if _, ok := w[k]; !ok {
				t.Errorf("catalogue item lacks %q, which the frontend reads", k)
			}
		}
		card := fmt.Sprintf("/api/workshops/%d", e.workshop.ID)
		if r := e.legacy("GET", card, "", nil); r.status != 200 || r.body["capacity"] != 3.0 {
			t.Fatalf("card: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/workshops/99999", "", nil); r.status != 404 {
			t.Fatalf("unknown workshop: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/special-badges", "", nil); r.status != 200 || !strings.Contains(string(r.raw), `"id":5`) ||
			!strings.Contains(string(r.raw), "Legend") {
			t.Fatalf("special badges: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/locations", "", nil); r.status != 200 ||
			!strings.Contains(string(r.raw), `"name":"local","basestdid":100,"proto":"http","port":"8000"`) {
			t.Fatalf("locations: %d %s", r.status, r.raw)
		}

		// The browser's preflight for the JSON post.
		pre, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/customer", nil)
		pre.Header.Set("Origin", frontendOrigin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		pre.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
		}

		// Registration: 200 with what the "You're Registered!" panel shows.
		r = e.legacy("POST", "/api/customer", "", frontendRegistration("ann smith", "Ann@Example.com"))
		if r.status != 200 || r.body["email"] != "ann@example.com" || r.body["studentId"] != 101.0 ||
			r.body["proxy"] != "wod" || r.body["name"] == nil {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		ann := int64(r.body["id"].(float64))
		if r := e.legacy("GET", card, "", nil); r.body["capacity"] != 2.0 {
			t.Fatalf("capacity after a registration: %s", r.raw)
		}

		// The same address again: 202 {id,title,endDate}, which the
		// "Already Registered" dialog shows and unregisters by.
		r = e.legacy("POST", "/api/customer", "", frontendRegistration("Ann Smith", "ann@example.com"))
		if r.status != 202 || r.body["id"] != float64(ann) || r.body["title"] != "API 101" {
			t.Fatalf("already registered: %d %s", r.status, r.raw)
		}
		if end, err := time.Parse(time.RFC3339, fmt.Sprint(r.body["endDate"])); err != nil || !end.After(clock.Now()) {
			t.Fatalf("already registered: endDate %v", r.body["endDate"])
		}

		// A disposable address is refused with the reason, not the
		// original's empty 200 that told the participant they were in.
		r = e.legacy("POST", "/api/customer", "", frontendRegistration("Spam", "x@mailinator.com"))
		if r.status != 422 || r.body["message"] == nil {
			t.Fatalf("disposable address: %d %s", r.status, r.raw)
		}
		r = e.legacy("POST", "/api/customer", "", frontendRegistration("Den", "den@denied.example"))
		if r.status != 422 || r.body["message"] == nil {
			t.Fatalf("denied address: %d %s", r.status, r.raw)
		}

		// Full: the two last seats go, then the original's text.
		for _, who := range []string{"bob@example.com", "cy@example.com"} {
			if r := e.legacy("POST", "/api/customer", "", frontendRegistration("X", who)); r.status != 200 {
				t.Fatalf("register %s: %d %s", who, r.status, r.raw)
			}
		}
		r = e.legacy("POST", "/api/customer", "", frontendRegistration("Dee", "dee@example.com"))
		if r.status != 202 || string(r.raw) != "Registration full, capacity exceeded. Please try again later" {
			t.Fatalf("full: %d %q", r.status, r.raw)
		}
		if r := e.legacy("GET", card, "", nil); r.body["capacity"] != 0.0 {
			t.Fatalf("capacity when full: %s", r.raw)
		}

		// Ann's environment is ready; the credentials mail gave her
		// student1 and the password.
		e.ready("ann-pass-1234")
		regAnn, err := db.FindRegistration(context.Background(), ann)
		if err != nil || regAnn.State != wod.StateReady || regAnn.Username != "student1" {
			t.Fatalf("ann: %+v %v", regAnn, err)
		}

		// The unregister dialog as the original sends it today (no
		// token): refused, as the original does.
		if r := e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), "", nil); r.status != 403 ||
			r.body["message"] != "No token provided!" {
			t.Fatalf("customer without a token: %d %s", r.status, r.raw)
		}
		// Wrong credentials get no token.
		if r := e.legacy("POST", "/api/login", "", map[string]any{"username": "student1", "password": "guess"}); r.status != 401 {
			t.Fatalf("wrong student password: %d %s", r.status, r.raw)
		}
		// With the token code fixed: log in with the student credentials.
		r = e.legacy("POST", "/api/login", "", map[string]any{"username": "student1", "password": "ann-pass-1234"})
		tok, _ := r.body["accessToken"].(string)
		if r.status != 200 || tok == "" || fmt.Sprint(r.body["roles"]) != "[ROLE_USER]" {
			t.Fatalf("student login: %d %s", r.status, r.raw)
		}
		r = e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), tok, nil)
		if r.status != 200 || r.body["studentId"] != 101.0 || r.body["email"] != "ann@example.com" ||
			r.body["active"] != true || r.body["lastEmailSent"] != "credentials" {
			t.Fatalf("customer: %d %s", r.status, r.raw)
		}
		r = e.legacy("GET", "/api/students/101", tok, nil)
		if r.status != 200 || r.body["username"] != "student1" || r.body["password"] != "ann-pass-1234" {
			t.Fatalf("student: %d %s", r.status, r.raw)
		}
		// The token is Ann's only: not another customer, not another seat.
		other := fmt.Sprintf("/api/customers/%d", ann+1)
		if r := e.legacy("GET", other, tok, nil); r.status != 403 {
			t.Fatalf("another customer with Ann's token: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/students/102", tok, nil); r.status != 403 {
			t.Fatalf("another student with Ann's token: %d %s", r.status, r.raw)
		}
		if r := e.legacy("PUT", fmt.Sprintf("/api/customer/unregister/%d", ann+1), tok, nil); r.status != 403 {
			t.Fatalf("unregister another with Ann's token: %d %s", r.status, r.raw)
		}
		r = e.legacy("PUT", fmt.Sprintf("/api/customer/unregister/%d", ann), tok, nil)
		if r.status != 200 || r.body["active"] != false {
			t.Fatalf("unregister: %d %s", r.status, r.raw)
		}
		if reg, _ := db.FindRegistration(context.Background(), ann); reg.State != wod.StateEnding {
			t.Fatalf("after unregister the registration is %s, want ending", reg.State)
		}
		// Her token ends with her registration; the public routes take it
		// as nobody's, so the frontend that still sends it works.
		if r := e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), tok, nil); r.status != 401 {
			t.Fatalf("token after the end: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/workshops?active=true", tok, nil); r.status != 200 {
			t.Fatalf("catalogue with an ended token: %d %s", r.status, r.raw)
		}
	})
}

// TestLegacyAuth: no legacy route changes anything without the right
// token, the original's holes are absent, operators log in with their wod
// password (throttled as wod's logins), and the backend's callbacks do
// what maps onto wod and refuse the rest with the reason.
func TestLegacyAuth(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0, withLegacy)
		r := e.legacy("POST", "/api/customer", "", frontendRegistration("Ann", "ann@example.com"))
		if r.status != 200 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		ann := int64(r.body["id"].(float64))
		e.ready("ann-pass-1234")
		student := e.legacy("POST", "/api/login", "", map[string]any{"username": "student1", "password": "ann-pass-1234"}).body["accessToken"].(string)

		mutating := []struct{ method, path string }{
			{"PUT", fmt.Sprintf("/api/customer/%d", ann)},
			{"PUT", "/api/student/101"},
			{"PUT", fmt.Sprintf("/api/customer/unregister/%d", ann)},
		}
		for _, m := range mutating {
			if r := e.legacy(m.method, m.path, "", map[string]any{"active": "false"}); r.status != 403 || r.body["message"] != "No token provided!" {
				t.Errorf("%s %s anonymous: %d %s", m.method, m.path, r.status, r.raw)
			}
			forged := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MX0.Q2Q8bx2KXb4vfSzWqsJzWGF2E3pDVr5h0l4KRZ6hjKw"
			if r := e.legacy(m.method, m.path, forged, map[string]any{"active": "false"}); r.status != 401 || r.body["message"] != "Unauthorized!" {
				t.Errorf("%s %s with the original's kind of token: %d %s", m.method, m.path, r.status, r.raw)
			}
		}
		for _, m := range mutating[:2] {
			if r := e.legacy(m.method, m.path, student, map[string]any{"active": "false"}); r.status != 403 ||
				r.body["message"] != "Require Moderator or Admin Role!" {
				t.Errorf("%s %s as a participant: %d %s", m.method, m.path, r.status, r.raw)
			}
		}
		if reg, _ := db.FindRegistration(context.Background(), ann); reg.State != wod.StateReady {
			t.Fatalf("a refused call changed the registration: %s", reg.State)
		}
		// The original's holes are not there.
		for _, m := range []struct{ method, path string }{{"POST", "/api/user"}, {"PUT", "/api/location/1"},
			{"DELETE", "/api/location/1"}, {"POST", "/api/workshop"}, {"PUT", "/api/workshop/1"}, {"GET", "/api/users"}} {
			if r := e.legacy(m.method, m.path, "", map[string]any{"username": "evil", "roles": []string{"admin"},
				"password": "x", "email": "evil@example.com"}); r.status != 404 {
				t.Errorf("%s %s: %d %s, want 404", m.method, m.path, r.status, r.raw)
			}
		}
		if r := e.legacy("POST", "/api/login", "", map[string]any{"username": "evil", "password": "x"}); r.status != 401 {
			t.Fatalf("login of the would-be signup: %d", r.status)
		}

		// An operator: the backend's moderator.
		if r := e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "moderator", "role": "moderator",
			"password": "a-long-password-1"}); r.status != 201 {
			t.Fatalf("create moderator: %d %s", r.status, r.raw)
		}
		r = e.legacy("POST", "/api/login", "", map[string]any{"username": "moderator", "password": "a-long-password-1"})
		mod, _ := r.body["accessToken"].(string)
		if r.status != 200 || mod == "" || fmt.Sprint(r.body["roles"]) != "[ROLE_USER ROLE_MODERATOR]" || r.body["username"] != "moderator" {
			t.Fatalf("moderator login: %d %s", r.status, r.raw)
		}
		if len(strings.Split(mod, ".")) != 3 {
			t.Fatalf("the token is not a JWT: %s", mod)
		}
		// The backend reads a customer and a student.
		if r := e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), mod, nil); r.status != 200 || r.body["studentId"] != 101.0 {
			t.Fatalf("customer as moderator: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/students/101", mod, nil); r.status != 200 || r.body["assigned"] != true {
			t.Fatalf("student as moderator: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", "/api/students/5000", mod, nil); r.status != 404 {
			t.Fatalf("unknown student: %d %s", r.status, r.raw)
		}
		// What the seat already is, is accepted (strings, as the backend
		// sends them); a new password or assignment is refused with why.
		if r := e.legacy("PUT", "/api/student/101", mod, map[string]any{"assigned": "true"}); r.status != 200 {
			t.Fatalf("idempotent student put: %d %s", r.status, r.raw)
		}
		r = e.legacy("PUT", "/api/student/101", mod, map[string]any{"password": "Other123"})
		if r.status != 409 || !strings.Contains(fmt.Sprint(r.body["message"]), "wod agent drives") {
			t.Fatalf("student password put: %d %s", r.status, r.raw)
		}
		r = e.legacy("PUT", fmt.Sprintf("/api/customer/%d", ann), mod, map[string]any{"completionPercentage": "50", "cleaned": "true"})
		if r.status != 409 || !strings.Contains(fmt.Sprint(r.body["message"]), "cleaned, completionPercentage") {
			t.Fatalf("customer put of the lifecycle's fields: %d %s", r.status, r.raw)
		}
		if r := e.legacy("PUT", fmt.Sprintf("/api/customer/%d", ann), mod, map[string]any{"active": "true"}); r.status != 200 {
			t.Fatalf("idempotent customer put: %d %s", r.status, r.raw)
		}
		// A later endDate extends; lastEmailSent "unregister" ends.
		cur := e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), mod, nil)
		end, _ := time.Parse(time.RFC3339, cur.body["endDate"].(string))
		r = e.legacy("PUT", fmt.Sprintf("/api/customer/%d", ann), mod, map[string]any{"endDate": end.Add(30 * time.Minute).Format(time.RFC3339)})
		if r.status != 200 || r.body["endDate"] != end.Add(30*time.Minute).UTC().Format(time.RFC3339) {
			t.Fatalf("extend: %d %s", r.status, r.raw)
		}
		r = e.legacy("PUT", fmt.Sprintf("/api/customer/%d", ann), mod, map[string]any{"lastEmailSent": "unregister"})
		if r.status != 200 || r.body["lastEmailSent"] != "expired" {
			t.Fatalf("end by lastEmailSent: %d %s", r.status, r.raw)
		}
		if reg, _ := db.FindRegistration(context.Background(), ann); reg.State != wod.StateEnding {
			t.Fatalf("after the moderator's unregister: %s", reg.State)
		}
		// wod's own API tokens work too, in the standard header.
		req, _ := http.NewRequest("GET", e.srv.URL+fmt.Sprintf("/api/customers/%d", ann), nil)
		req.Header.Set("Authorization", "Bearer "+e.mod)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
			t.Fatalf("with a wod token: %v %v", res, err)
		}

		// A disabled operator's token stops working at once.
		var users []map[string]any
		json.Unmarshal(e.do("GET", "/api/v1/users", e.admin, nil).raw, &users)
		var id float64
		for _, u := range users {
			if u["username"] == "moderator" {
				id = u["id"].(float64)
			}
		}
		if r := e.do("PATCH", fmt.Sprintf("/api/v1/users/%d", int(id)), e.admin, map[string]any{"disabled": true}); r.status != 200 {
			t.Fatalf("disable: %d %s", r.status, r.raw)
		}
		if r := e.legacy("GET", fmt.Sprintf("/api/customers/%d", ann), mod, nil); r.status != 401 {
			t.Fatalf("a disabled operator's token: %d %s", r.status, r.raw)
		}

		// Logins are throttled as wod's: five failures, then 429.
		for i := range 5 {
			if r := e.legacy("POST", "/api/login", "", map[string]any{"username": "student2", "password": "guess"}); r.status != 401 {
				t.Fatalf("failure %d: %d %s", i, r.status, r.raw)
			}
		}
		if r := e.legacy("POST", "/api/login", "", map[string]any{"username": "student2", "password": "guess"}); r.status != 429 ||
			r.header.Get("Retry-After") == "" {
			t.Fatalf("throttled: %d %s", r.status, r.raw)
		}

		// The legacy routes are not in wod's OpenAPI document.
		doc := e.do("GET", "/api/v1/openapi.json", "", nil)
		var spec struct {
			Paths map[string]any `json:"paths"`
		}
		json.Unmarshal(doc.raw, &spec)
		for p := range spec.Paths {
			if !strings.HasPrefix(p, "/api/v1/") && !slices.Contains([]string{"/api/v1"}, p) {
				t.Errorf("OpenAPI path %s is outside /api/v1", p)
			}
		}
	})
}

// TestLegacyRoutesOff: without --legacy-routes, wod serves none of them.
func TestLegacyRoutesOff(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		if r := e.legacy("GET", "/api/workshops", "", nil); r.status != 404 {
			t.Fatalf("GET /api/workshops: %d", r.status)
		}
		if r := e.legacy("POST", "/api/customer", "", frontendRegistration("Ann", "ann@example.com")); r.status == 200 || r.status == 202 {
			t.Fatalf("POST /api/customer: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/workshops", "", nil); r.status != 200 {
			t.Fatalf("wod's own API: %d", r.status)
		}
	})
}

// TestLegacyRegistrationRace: the original picked a free student with no
// lock, so two participants could get the same one. Through wod's engine,
// twelve at once for three seats get three distinct seats and nine
// "full" answers.
func TestLegacyRegistrationRace(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0, withLegacy)
		type answer struct {
			status  int
			student any
			raw     string
		}
		answers := make(chan answer, 12)
		for i := range 12 {
			go func() {
				b, _ := json.Marshal(frontendRegistration("P", fmt.Sprintf("p%d@example.com", i)))
				res, err := http.Post(e.srv.URL+"/api/customer", "application/json", bytes.NewReader(b))
				if err != nil {
					answers <- answer{raw: err.Error()}
					return
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				var body map[string]any
				json.Unmarshal(raw, &body)
				answers <- answer{status: res.StatusCode, student: body["studentId"], raw: string(raw)}
			}()
		}
		seats := map[any]bool{}
		full := 0
		for range 12 {
			a := <-answers
			switch {
			case a.status == 200:
				if seats[a.student] {
					t.Errorf("student %v given twice", a.student)
				}
				seats[a.student] = true
			case a.status == 202 && a.raw == "Registration full, capacity exceeded. Please try again later":
				full++
			default:
				t.Errorf("answer %d %s", a.status, a.raw)
			}
		}
		if len(seats) != 3 || full != 9 {
			t.Fatalf("%d registered (%v), %d full; want 3 and 9", len(seats), seats, full)
		}
	})
}
