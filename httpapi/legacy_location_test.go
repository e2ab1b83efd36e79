package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/mail/smtptest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// legacyBackend is an original wod-backend as the server sees it: its
// Postfix (a real SMTP server receiving the command mails) and its
// procmail-action.sh's REST calls (the api-db client the backend bridge
// uses, logged in as the backend's moderator).
type legacyBackend struct {
	postfix *smtptest.Server
	api     *legacy.APIDB
}

// makeLegacy turns the env's location into a legacy one served by a
// backend whose Postfix runs in the test, through the locations API.
func makeLegacy(t *testing.T, e *env) *legacyBackend {
	t.Helper()
	pf := smtptest.Start(t)
	e.eng.Commands = &mail.CommandSender{From: "wod@acme.test", HELO: "wod.test", Timeout: 10 * time.Second}
	// The agent it had spoke; the backend never will.
	if _, err := e.db.Heartbeat(context.Background(), e.loc.ID, "ok", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := e.do("PATCH", "/api/v1/locations/local", e.admin, map[string]any{"kind": "legacy",
		"backend_email": "wod@backend.test", "backend_smtp": pf.Addr})
	if r.status != 200 || r.body["kind"] != "legacy" || r.body["backend_email"] != "wod@backend.test" || r.body["last_heartbeat"] != nil {
		t.Fatalf("make the location legacy: %d %s", r.status, r.raw)
	}
	if r := e.do("PATCH", "/api/v1/locations/local", e.admin, map[string]any{"backend_email": "not an address"}); r.status != 422 && r.status != 400 {
		t.Fatalf("a bad backend address: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/api/v1/users", e.admin, map[string]any{"username": "moderator", "role": "moderator",
		"password": "a-long-password-1"}); r.status != 201 {
		t.Fatalf("create moderator: %d %s", r.status, r.raw)
	}
	return &legacyBackend{postfix: pf, api: &legacy.APIDB{URL: e.srv.URL + "/api", User: "moderator",
		Password: "a-long-password-1"}}
}

// commands returns the command mails the backend received, as the DATA
// bytes its procmail reads.
func (b *legacyBackend) commands() []string {
	var out []string
	for _, m := range b.postfix.Messages() {
		out = append(out, string(m.Raw))
	}
	return out
}

// expectCommand checks the next command mail, byte for byte, and its
// envelope.
func (b *legacyBackend) expectCommand(t *testing.T, n int, subject, notebook string) {
	t.Helper()
	ms := b.postfix.Wait(t, n, 10*time.Second)
	if len(ms) != n {
		t.Fatalf("command mails: want %d, got %q", n, b.commands())
	}
	m := ms[n-1]
	if want := "Subject: " + subject + "\r\n\r\n" + notebook + "\r\n"; string(m.Raw) != want {
		t.Fatalf("command mail bytes:\n got %q\nwant %q", m.Raw, want)
	}
	if m.From != "" && m.From != "wod@acme.test" || !slices.Equal(m.To, []string{"wod@backend.test"}) {
		t.Fatalf("command mail envelope: from %q to %q", m.From, m.To)
	}
}

func drive(t *testing.T, eng *engine.Engine, want int) {
	t.Helper()
	n, err := eng.DriveLegacy(context.Background())
	if err != nil || n != want {
		t.Fatalf("drive legacy: sent %d (want %d), %v", n, want, err)
	}
}

func mailCount(t *testing.T, db *store.DB, id int64, kind wod.MailKind) int {
	t.Helper()
	_, n, err := db.FindMails(context.Background(), wod.MailFilter{RegistrationID: &id, Kind: &kind, Page: wod.Page{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// restarted is the server after a crash: a new engine and API on the same
// database and keys, with nothing of the old one's memory.
func restarted(t *testing.T, e *env) (*engine.Engine, string) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test"}, "")
	if err != nil {
		t.Fatal(err)
	}
	eng := &engine.Engine{Store: e.db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: e.keys, Clock: e.clock,
		Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: 10 * time.Minute, RemindBefore: time.Hour,
		AgentLease: time.Minute, Worker: "test-2", Commands: e.eng.Commands}
	api := &httpapi.Server{Webhooks: e.db, Workshops: e.db, Locations: e.db, Seats: e.db, Registrations: e.db, Registrar: eng,
		Jobs: e.db, Operator: e.ops, Agents: eng, AgentAuth: e.db, LTI: e.db, Backends: eng, Mails: e.db, Users: e.db,
		Tokens: e.db, Sessions: e.db, Events: e.db, Announcements: e.db, Health: e.db, Keys: e.keys, Clock: e.clock,
		Logger: logger, PublicURL: "http://wod.test", Version: "test", LegacyRoutes: true}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return eng, srv.URL + "/api"
}

// TestLegacyLocationLife drives a whole registration at a legacy location:
// the original frontend registers, the server sends CREATE to the
// backend's Postfix, the server restarts before the backend answers, the
// backend's procmail-action.sh reports the password and "active" (the
// registration is ready, wod's credentials mail goes out), the participant
// unregisters, CLEANUP goes out, the backend reports the completion and
// "cleaned": the registration is done, every mail went once, the seat is
// free.
func TestLegacyLocationLife(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		e := newEnv(t, db, clock, 0, withLegacy)
		be := makeLegacy(t, e)

		r := e.legacy("POST", "/api/customer", "", frontendRegistration("ann smith", "Ann@Example.org"))
		if r.status != 200 || r.body["studentId"] != 101.0 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		id := int64(r.body["id"].(float64))

		// An agent's token cannot claim a legacy location's jobs.
		tr := e.do("POST", "/api/v1/locations/local/agent-token", e.admin, nil)
		tok, _ := tr.body["token"].(string)
		if tr.status/100 != 2 || tok == "" {
			t.Fatalf("agent token: %d %s", tr.status, tr.raw)
		}
		if c := e.do("POST", "/api/v1/agent/claim", tok, map[string]any{}); c.status != 403 || !strings.Contains(string(c.raw), "legacy") {
			t.Fatalf("an agent's claim at a legacy location: %d %s", c.status, c.raw)
		}

		drive(t, e.eng, 1)
		be.expectCommand(t, 1, fmt.Sprintf("CREATE 1 %d ann@example.org", id), "WKSHP-API101")
		drive(t, e.eng, 0) // sent once: it waits for the backend

		// The server restarts; the backend's callbacks reach the new one.
		eng2, apiURL := restarted(t, e)
		drive(t, eng2, 0)
		be.api.URL = apiURL
		// Out of order: "active" before the password is refused, loses nothing.
		if err := be.api.PutCustomer(ctx, id, map[string]string{"active": "true"}); err == nil ||
			!strings.Contains(err.Error(), "password") {
			t.Fatalf("active before the password: %v", err)
		}
		// procmail-action.sh CREATE, steps 5 and 6.
		if err := be.api.PutStudent(ctx, 101, map[string]string{"password": "Xy7pQ2rs"}); err != nil {
			t.Fatal(err)
		}
		if err := be.api.PutCustomer(ctx, id, map[string]string{"active": "true"}); err != nil {
			t.Fatal(err)
		}
		reg, err := db.FindRegistration(ctx, id)
		if err != nil || reg.State != wod.StateReady {
			t.Fatalf("after active: %+v %v", reg, err)
		}
		if pw, running, err := engine.StudentPassword(e.keys, reg); err != nil || !running || pw != "Xy7pQ2rs" {
			t.Fatalf("the participant's password: %q %v %v", pw, running, err)
		}
		// The backend's curl repeats: nothing happens twice.
		if err := be.api.PutCustomer(ctx, id, map[string]string{"active": "true"}); err != nil {
			t.Fatal(err)
		}
		if n := mailCount(t, db, id, wod.MailCredentials); n != 1 {
			t.Fatalf("credentials mails: %d", n)
		}

		// The participant ends it; CLEANUP goes out.
		if _, err := eng2.EndNow(ctx, id, "participant"); err != nil {
			t.Fatal(err)
		}
		drive(t, eng2, 1)
		be.expectCommand(t, 2, fmt.Sprintf("CLEANUP 1 %d", id), "WKSHP-API101")
		// procmail-action.sh CLEANUP: the rotated password, the
		// completion, the seat unassigned, then cleaned.
		for _, put := range []struct {
			student bool
			fields  map[string]string
		}{
			{true, map[string]string{"password": "Zz9kLm3n"}},
			{false, map[string]string{"completionPercentage": "40"}},
			{true, map[string]string{"assigned": "false"}},
			{false, map[string]string{"cleaned": "true"}},
		} {
			var err error
			if put.student {
				err = be.api.PutStudent(ctx, 101, put.fields)
			} else {
				err = be.api.PutCustomer(ctx, id, put.fields)
			}
			if err != nil {
				t.Fatalf("cleanup callback %v: %v", put.fields, err)
			}
		}
		if err := be.api.PutCustomer(ctx, id, map[string]string{"cleaned": "true"}); err != nil {
			t.Fatalf("cleaned again: %v", err)
		}
		reg, err = db.FindRegistration(ctx, id)
		if err != nil || reg.State != wod.StateDone || reg.Completion == nil || *reg.Completion != 40 || reg.SeatHeld {
			t.Fatalf("after cleaned: %+v %v", reg, err)
		}
		seats, _, err := db.FindSeats(ctx, wod.SeatFilter{LocationID: &e.loc.ID, Page: wod.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seats {
			if s.State != wod.SeatFree {
				t.Fatalf("seat %s is %s", s.Username, s.State)
			}
		}
		for _, k := range []wod.MailKind{wod.MailWelcome, wod.MailCredentials, wod.MailGoodbye} {
			if n := mailCount(t, db, id, k); n != 1 {
				t.Fatalf("%s mails: %d", k, n)
			}
		}
		drive(t, eng2, 0)
		if got := be.commands(); len(got) != 2 {
			t.Fatalf("command mails: %q", got)
		}
	})
}

// TestLegacyLocationWatchdog: a backend that never finishes CREATE gets,
// at the provision timeout, the apology sent to the participant and a
// PURGE of the seat, which its {"assigned":"false"} frees. A backend that
// was down gets the command again.
func TestLegacyLocationWatchdog(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		e := newEnv(t, db, clock, 0, withLegacy)
		be := makeLegacy(t, e)

		// The backend's Postfix refuses: the command is retried later.
		be.postfix.Refuse(fmt.Errorf("451 try later"))
		r := e.legacy("POST", "/api/customer", "", frontendRegistration("bob", "bob@example.org"))
		if r.status != 200 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		id := int64(r.body["id"].(float64))
		drive(t, e.eng, 0)
		be.postfix.Refuse(nil)
		clock.Advance(time.Minute)
		drive(t, e.eng, 1)
		be.expectCommand(t, 1, fmt.Sprintf("CREATE 1 %d bob@example.org", id), "WKSHP-API101")

		clock.Advance(11 * time.Minute)
		if _, err := e.eng.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		reg, err := db.FindRegistration(ctx, id)
		if err != nil || reg.State != wod.StateFailed {
			t.Fatalf("after the watchdog: %+v %v", reg, err)
		}
		// The create's late report changes nothing.
		if err := be.api.PutStudent(ctx, 101, map[string]string{"password": "late1234"}); err != nil {
			t.Fatal(err)
		}
		drive(t, e.eng, 1)
		be.expectCommand(t, 2, fmt.Sprintf("PURGE 1 %d", id), "WKSHP-API101")
		// The backend's PURGE waits for "cleaned": a failed registration is.
		if c, err := e.legacyGet(be, fmt.Sprintf("/customers/%d", id)); err != nil || c["cleaned"] != true {
			t.Fatalf("cleaned of a failed customer: %v %v", c, err)
		}
		if err := be.api.PutStudent(ctx, 101, map[string]string{"assigned": "false", "password": "Pq8rSt1u"}); err != nil {
			t.Fatal(err)
		}
		reg, err = db.FindRegistration(ctx, id)
		if err != nil || reg.SeatHeld {
			t.Fatalf("after PURGE: %+v %v", reg, err)
		}
		if n := mailCount(t, db, id, wod.MailApology); n != 1 {
			t.Fatalf("apology mails: %d", n)
		}
		drive(t, e.eng, 0)
		if got := be.commands(); len(got) != 2 {
			t.Fatalf("command mails: %q", got)
		}
	})
}

// legacyGet reads a route as the backend's moderator.
func (e *env) legacyGet(be *legacyBackend, path string) (map[string]any, error) {
	r := e.legacy("POST", "/api/login", "", map[string]any{"username": be.api.User, "password": be.api.Password})
	tok, _ := r.body["accessToken"].(string)
	g := e.legacy("GET", "/api"+path, tok, nil)
	if g.status != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", path, g.status, g.raw)
	}
	return g.body, nil
}

// TestLegacyLocationReset: at a reset workshop, the backend's CLEANUP
// keeps the seat (assigned "true", active "false"); the server then sends
// RESET, whose {"assigned":"false"} frees the seat.
func TestLegacyLocationReset(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		e := newEnv(t, db, clock, 0, withLegacy)
		be := makeLegacy(t, e)
		reset := true
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-API101", wod.WorkshopUpdate{Reset: &reset}); err != nil {
			t.Fatal(err)
		}
		r := e.legacy("POST", "/api/customer", "", frontendRegistration("cy", "cy@example.org"))
		if r.status != 200 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
		id := int64(r.body["id"].(float64))
		drive(t, e.eng, 1)
		if err := be.api.PutStudent(ctx, 101, map[string]string{"password": "Ab3dEf6h"}); err != nil {
			t.Fatal(err)
		}
		if err := be.api.PutCustomer(ctx, id, map[string]string{"active": "true"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.EndNow(ctx, id, "participant"); err != nil {
			t.Fatal(err)
		}
		drive(t, e.eng, 1)
		be.expectCommand(t, 2, fmt.Sprintf("CLEANUP 1 %d", id), "WKSHP-API101")
		for _, put := range []struct {
			student bool
			fields  map[string]string
		}{
			{true, map[string]string{"password": "Gh4jKl7m"}},
			{false, map[string]string{"completionPercentage": "75"}},
			{true, map[string]string{"assigned": "true"}},
			{false, map[string]string{"active": "false"}},
			{false, map[string]string{"cleaned": "true"}},
		} {
			var err error
			if put.student {
				err = be.api.PutStudent(ctx, 101, put.fields)
			} else {
				err = be.api.PutCustomer(ctx, id, put.fields)
			}
			if err != nil {
				t.Fatalf("cleanup callback %v: %v", put.fields, err)
			}
		}
		reg, err := db.FindRegistration(ctx, id)
		if err != nil || reg.State != wod.StateDone || !reg.SeatHeld {
			t.Fatalf("after cleaned: %+v %v", reg, err)
		}
		drive(t, e.eng, 1)
		be.expectCommand(t, 3, fmt.Sprintf("RESET 1 %d", id), "WKSHP-API101")
		// The backend's RESET waits for "cleaned" first.
		if c, err := e.legacyGet(be, fmt.Sprintf("/customers/%d", id)); err != nil || c["cleaned"] != true {
			t.Fatalf("cleaned before RESET: %v %v", c, err)
		}
		if err := be.api.PutStudent(ctx, 101, map[string]string{"assigned": "false"}); err != nil {
			t.Fatal(err)
		}
		reg, err = db.FindRegistration(ctx, id)
		if err != nil || reg.SeatHeld {
			t.Fatalf("after RESET: %+v %v", reg, err)
		}
		// A second {"assigned":"false"} (curl again) is the seat as it is.
		if err := be.api.PutStudent(ctx, 101, map[string]string{"assigned": "false"}); err != nil {
			t.Fatal(err)
		}
		if n := mailCount(t, db, id, wod.MailGoodbye); n != 1 {
			t.Fatalf("goodbye mails: %d", n)
		}
		drive(t, e.eng, 0)
	})
}
