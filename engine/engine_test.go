package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// outbox is a transport that keeps what it is given, in order.
type outbox struct {
	mu   sync.Mutex
	sent []*mail.Message
	fail error
}

func (o *outbox) Send(_ context.Context, m *mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) kinds() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, m := range o.sent {
		out = append(out, m.Subject)
	}
	return out
}

type world struct {
	t     *testing.T
	db    *store.DB
	clock *storetest.Clock
	eng   *engine.Engine
	disp  *engine.Dispatcher
	out   *outbox
	keys  *secret.Keys
	loc   *wod.Location
	ctx   context.Context
}

func newWorld(t *testing.T, db *store.DB, clock *storetest.Clock) *world {
	t.Helper()
	ctx := context.Background()
	keys, err := secret.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test", PortalURL: "http://wod.test/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &world{t: t, db: db, clock: clock, keys: keys, out: &outbox{}, ctx: ctx}
	w.eng = &engine.Engine{Store: db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: keys, Clock: clock,
		Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: 10 * time.Minute, RemindBefore: time.Hour,
		NotebookRetention: 7 * 24 * time.Hour,
		AgentLease:        time.Minute, Worker: "test"}
	w.disp = &engine.Dispatcher{Store: db, Transport: w.out, Keys: keys, Clock: clock, Logger: logger, From: "wod@acme.test"}
	w.loc = &wod.Location{Name: "local", HubURL: "http://hub.test", Students: 10}
	if err := db.CreateLocation(ctx, w.loc); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []*wod.Workshop{
		{Slug: "WKSHP-A", Title: "Workshop A", Duration: wod.Duration(2 * time.Hour), Capacity: 3, SeatMin: 1, SeatMax: 3},
		{Slug: "WKSHP-B", Title: "Workshop B", Duration: wod.Duration(2 * time.Hour), Capacity: 3, SeatMin: 4, SeatMax: 6, Reset: true,
			Limits: wod.Limits{Memory: 1 << 30, Tasks: 128}},
		{Slug: "WKSHP-C", Title: "Workshop C", Duration: wod.Duration(2 * time.Hour), Capacity: 3, SeatMin: 7, SeatMax: 9},
	} {
		ws.LocationID, ws.Active, ws.SessionType = w.loc.ID, true, wod.SessionWorkshop
		ws.Appliance = wod.ApplianceNone
		if ws.Slug == "WKSHP-C" {
			ws.Appliance = wod.ApplianceMulti
		}
		if err := db.CreateWorkshop(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	admin := &wod.User{Username: "ops", Email: "ops@acme.test", Role: wod.RoleAdmin, PasswordHash: "x"}
	if err := db.CreateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) register(workshop, email string) *wod.Registration {
	w.t.Helper()
	r, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: workshop, Name: "Ann Smith", Email: email})
	if err != nil {
		w.t.Fatalf("register: %v", err)
	}
	return r
}

// claim takes the next agent job, which must be of the kind.
func (w *world) claim(kind wod.JobKind) *wod.AgentJob {
	w.t.Helper()
	j, err := w.eng.ClaimJob(w.ctx, w.loc.ID, "agent", 0)
	if err != nil || j == nil || j.Kind != kind {
		w.t.Fatalf("claim: got %+v, %v; want a %s job", j, err, kind)
	}
	return j
}

func (w *world) noJob() {
	w.t.Helper()
	if j, err := w.eng.ClaimJob(w.ctx, w.loc.ID, "agent", 0); err != nil || j != nil {
		w.t.Fatalf("claim: got %+v, %v; want nothing", j, err)
	}
}

func (w *world) report(j *wod.AgentJob, res wod.AgentResult) {
	w.t.Helper()
	res.Attempt = j.Attempt
	if err := w.eng.ReportJob(w.ctx, w.loc.ID, j.ID, "agent", res); err != nil {
		w.t.Fatalf("report %s: %v", j.Kind, err)
	}
}

func (w *world) reg(id int64) *wod.Registration {
	w.t.Helper()
	r, err := w.db.FindRegistration(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) tick() {
	w.t.Helper()
	if _, err := w.eng.RunDue(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.disp.SendDue(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) seat(r *wod.Registration) wod.SeatState {
	w.t.Helper()
	seats, _, err := w.db.FindSeats(w.ctx, wod.SeatFilter{Page: wod.Page{Limit: 100}})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range seats {
		if s.Number == r.StudentNumber {
			return s.State
		}
	}
	w.t.Fatalf("no seat %d", r.StudentNumber)
	return ""
}

func pct(n int) *int { return &n }

// TestWholeLife drives one registration from booking to a recycled seat on
// a controlled clock.
func TestWholeLife(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "ann@example.com")
		w.tick()
		if got := w.out.kinds(); len(got) != 1 || !strings.Contains(got[0], "Acme") {
			t.Fatalf("after booking, sent %v; want the welcome", got)
		}

		job := w.claim(wod.JobCreate)
		if job.Username != "student1" || job.Workshop != "WKSHP-A" || job.StudentID != 1 || job.RegistrationID != r.ID {
			t.Fatalf("create job: %+v", job)
		}
		clock.Advance(3 * time.Second)
		w.report(job, wod.AgentResult{OK: true, Password: "pw-Secret-123"})
		r = w.reg(r.ID)
		if r.State != wod.StateReady || !r.ReadyAt.Equal(clock.Now()) || !r.EndsAt.Equal(clock.Now().Add(2*time.Hour)) {
			t.Fatalf("after create: %s ready %v ends %v", r.State, r.ReadyAt, r.EndsAt)
		}
		w.tick()
		sent := w.out.sent
		if len(sent) != 2 || !strings.Contains(sent[1].Text, "pw-Secret-123") || !strings.Contains(sent[1].HTML, "pw-Secret-123") ||
			!strings.Contains(sent[1].Text, "student1") {
			t.Fatalf("credentials mail: %d sent; text %q", len(sent), sent[len(sent)-1].Text)
		}
		// The outbox itself never holds the password.
		ms, _, _ := db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID})
		for _, m := range ms {
			if strings.Contains(m.Text+m.HTML, "pw-Secret-123") {
				t.Fatalf("the outbox holds the password in %s", m.Kind)
			}
			if m.State != wod.MailSent {
				t.Fatalf("mail %s is %s", m.Kind, m.State)
			}
		}
		w.noJob()

		// An hour before the end: the reminder.
		clock.Advance(59 * time.Minute)
		w.tick()
		if r = w.reg(r.ID); r.State != wod.StateReady {
			t.Fatalf("a minute early: %s", r.State)
		}
		clock.Advance(time.Minute)
		w.tick()
		if r = w.reg(r.ID); r.State != wod.StateExpiring || len(w.out.sent) != 3 {
			t.Fatalf("at the reminder: %s, %d mails", r.State, len(w.out.sent))
		}
		// The end: cleanup, measured, wiped, goodbye, seat free.
		clock.Advance(time.Hour)
		w.tick()
		if r = w.reg(r.ID); r.State != wod.StateEnding || !r.EndedAt.Equal(clock.Now()) {
			t.Fatalf("at the end: %s", r.State)
		}
		job = w.claim(wod.JobCleanup)
		w.report(job, wod.AgentResult{OK: true, Completion: pct(75), Notebooks: []byte("PK zip")})
		w.tick()
		r = w.reg(r.ID)
		if r.State != wod.StateDone || r.Completion == nil || *r.Completion != 75 || w.seat(r) != wod.SeatFree || r.SeatHeld {
			t.Fatalf("after cleanup: %s completion %v seat %s", r.State, r.Completion, w.seat(r))
		}
		// The participant's notebooks are kept, and the goodbye says where.
		if n, err := db.FindNotebooks(w.ctx, r.ID, true); err != nil || string(n.Data) != "PK zip" {
			t.Fatalf("notebooks: %+v %v", n, err)
		}
		link := w.eng.NotebooksURL(r.ID)
		until := clock.Now().Add(7 * 24 * time.Hour).Format("Mon 2 Jan")
		if len(w.out.sent) != 4 || !strings.Contains(w.out.sent[3].Text, "75") || !strings.Contains(w.out.sent[3].Text, link) ||
			!strings.Contains(w.out.sent[3].Text, "until "+until) || !strings.Contains(w.out.sent[3].HTML, `href="`+link+`"`) {
			t.Fatalf("goodbye: %v\n%s", w.out.kinds(), w.out.sent[len(w.out.sent)-1].Text)
		}
		w.noJob()
		// Nothing is due any more, and nothing is sent twice.
		clock.Advance(24 * time.Hour)
		w.tick()
		if len(w.out.sent) != 4 {
			t.Fatalf("mails after the end: %v", w.out.kinds())
		}
		jobs, _, _ := db.FindJobs(w.ctx, wod.JobFilter{RegistrationID: &r.ID})
		states := map[wod.JobKind]wod.JobState{}
		for _, j := range jobs {
			states[j.Kind] = j.State
		}
		want := map[wod.JobKind]wod.JobState{wod.JobCreate: wod.JobDone, wod.JobWatchdog: wod.JobCancelled,
			wod.JobRemind: wod.JobDone, wod.JobExpire: wod.JobDone, wod.JobCleanup: wod.JobDone}
		if fmt.Sprint(states) != fmt.Sprint(want) {
			t.Fatalf("jobs %v, want %v", states, want)
		}
		// The address may register again.
		w.register("WKSHP-A", "ann@example.com")
	})
}

func TestWatchdogPurgesWithApology(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "bob@example.com")
		job := w.claim(wod.JobCreate) // the agent takes it and never answers
		clock.Advance(10 * time.Minute)
		w.tick()
		r = w.reg(r.ID)
		if r.State != wod.StateFailed || !strings.Contains(r.Error, "not ready within") || w.seat(r) != wod.SeatAssigned {
			t.Fatalf("after the watchdog: %s %q seat %s", r.State, r.Error, w.seat(r))
		}
		subjects := strings.Join(w.out.kinds(), " | ")
		if !strings.Contains(subjects, "deployment issue") || !strings.Contains(subjects, "alert") {
			t.Fatalf("apology and alert: %s", subjects)
		}
		var alert *mail.Message
		for _, m := range w.out.sent {
			if m.To == "ops@acme.test" {
				alert = m
			}
		}
		if alert == nil || !strings.Contains(alert.Text, "bob@example.com") {
			t.Fatalf("the alert goes to the admins: %v", w.out.sent)
		}
		// The late create report is moot; the purge frees the seat.
		w.report(job, wod.AgentResult{OK: true, Password: "late"})
		if r = w.reg(r.ID); r.State != wod.StateFailed {
			t.Fatalf("a late create revived the registration: %s", r.State)
		}
		job = w.claim(wod.JobPurge)
		w.report(job, wod.AgentResult{OK: true})
		if r = w.reg(r.ID); w.seat(r) != wod.SeatFree || r.SeatHeld {
			t.Fatalf("after purge the seat is %s", w.seat(r))
		}
		// The participant may register again at once.
		w.register("WKSHP-A", "bob@example.com")
	})
}

// TestNewClaimTrustsAClearLook: an agent's new claim does not look for
// jobs again when the location's last look, within the second, left none
// due and no wake-up came since; a wake-up, or a second of the engine's
// clock, makes it look.
func TestNewClaimTrustsAClearLook(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		// A create scheduled behind the engine's back: no wake-up.
		unheard := func(email string) {
			t.Helper()
			_, err := db.CreateRegistration(w.ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Unheard", Email: email},
				Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()}},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		w.noJob() // a clear look
		unheard("a@example.com")
		w.noJob() // trusted: not looked for
		w.eng.WakeClaims(w.loc.ID)
		w.claim(wod.JobCreate)

		w.noJob()
		unheard("b@example.com")
		w.noJob()
		clock.Advance(time.Second)
		w.claim(wod.JobCreate)

		// A booking through the engine wakes the location's claims.
		w.noJob()
		w.register("WKSHP-A", "c@example.com")
		w.claim(wod.JobCreate)
	})
}

func TestLeasesAndRetries(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "cy@example.com")
		first := w.claim(wod.JobCreate)
		w.noJob() // leased
		clock.Advance(61 * time.Second)
		second := w.claim(wod.JobCreate) // the lease ran out: another attempt
		if second.ID != first.ID || second.Attempt != first.Attempt+1 {
			t.Fatalf("re-claim: %+v after %+v", second, first)
		}
		// The vanished agent's report is refused; nothing happens twice.
		err := w.eng.ReportJob(w.ctx, w.loc.ID, first.ID, "agent", wod.AgentResult{Attempt: first.Attempt, OK: true, Password: "x"})
		if wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("stale report: %v", err)
		}
		// Failures back off: after attempt 2, 30 s; after attempt 3, 90 s.
		w.report(second, wod.AgentResult{OK: false, Error: "hub unreachable"})
		clock.Advance(29 * time.Second)
		w.noJob()
		clock.Advance(time.Second)
		third := w.claim(wod.JobCreate)
		w.report(third, wod.AgentResult{OK: false, Error: "hub unreachable"})
		clock.Advance(89 * time.Second)
		w.noJob()
		clock.Advance(time.Second)
		fourth := w.claim(wod.JobCreate)
		w.report(fourth, wod.AgentResult{OK: true, Password: "pw"})
		if r = w.reg(r.ID); r.State != wod.StateReady {
			t.Fatalf("after retries: %s", r.State)
		}
		// A job for another location is not this agent's business.
		err = w.eng.ReportJob(w.ctx, w.loc.ID+1, fourth.ID, "agent", wod.AgentResult{Attempt: fourth.Attempt, OK: true})
		if wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("report from another location: %v", err)
		}

		// A create that keeps failing gives up: failed, purged, apologised.
		r2 := w.register("WKSHP-A", "dee@example.com")
		for i := range wod.DefaultMaxAttempts {
			j := w.claim(wod.JobCreate)
			w.report(j, wod.AgentResult{OK: false, Error: fmt.Sprintf("boom %d", i)})
			clock.Advance(15 * time.Minute)
		}
		r2 = w.reg(r2.ID)
		if r2.State != wod.StateFailed || !strings.Contains(r2.Error, "boom 4") {
			t.Fatalf("exhausted create: %s %q", r2.State, r2.Error)
		}
		w.claim(wod.JobPurge)
	})
}

// TestHeartbeatReleasesLostJobs: a job whose claim answer never reached the
// agent (the server died while answering), or whose agent restarted, runs
// again at the agent's next heartbeat rather than when its lease ends.
func TestHeartbeatReleasesLostJobs(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.register("WKSHP-A", "cy@example.com")
		w.register("WKSHP-C", "dee@example.com")
		lost := w.claim(wod.JobCreate)
		kept := w.claim(wod.JobCreate)
		beat := func() {
			t.Helper()
			if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Health: "ok", Running: []int64{kept.ID}}); err != nil {
				t.Fatal(err)
			}
		}
		// A heartbeat may cross the answer of a claim: a fresh claim stays.
		beat()
		w.noJob()
		clock.Advance(20 * time.Second)
		// An agent that does not say what it runs releases nothing.
		if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Health: "old agent"}); err != nil {
			t.Fatal(err)
		}
		w.noJob()
		beat()
		again := w.claim(wod.JobCreate)
		if again.ID != lost.ID || again.Attempt != lost.Attempt+1 {
			t.Fatalf("released job: %+v, want job %d again", again, lost.ID)
		}
		w.noJob() // the job the agent runs keeps its lease
		w.report(kept, wod.AgentResult{OK: true, Password: "pw"})
		w.report(again, wod.AgentResult{OK: true, Password: "pw"})
		l, err := db.FindLocation(w.ctx, "local")
		if err != nil || l.LastHeartbeat == nil || l.Health != "ok" {
			t.Fatalf("location after heartbeats: %+v, %v", l, err)
		}
	})
}

func TestOperatorActions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "eve@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.tick()
		ends := *w.reg(r.ID).EndsAt

		// Extend: the end and the reminder move.
		if _, err := w.eng.Extend(w.ctx, r.ID, 30*time.Minute, "ops"); err != nil {
			t.Fatal(err)
		}
		if got := *w.reg(r.ID).EndsAt; !got.Equal(ends.Add(30 * time.Minute)) {
			t.Fatalf("extended end %v", got)
		}
		clock.Advance(time.Hour)
		w.tick()
		if got := w.reg(r.ID).State; got != wod.StateReady {
			t.Fatalf("reminder fired at the old time: %s", got)
		}
		clock.Advance(30 * time.Minute)
		w.tick()
		if got := w.reg(r.ID).State; got != wod.StateExpiring {
			t.Fatalf("reminder at the new time: %s", got)
		}
		// Extending while expiring brings it back to ready, reminded anew.
		if r, _ := w.eng.Extend(w.ctx, r.ID, 2*time.Hour, "ops"); r.State != wod.StateReady {
			t.Fatalf("extend while expiring: %s", r.State)
		}
		w.tick() // the participant is told of each extension
		if _, err := w.eng.Extend(w.ctx, r.ID, 48*time.Hour, "ops"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("too long an extension: %v", err)
		}
		// Resend: the credentials once more, on purpose.
		before := len(w.out.sent)
		if err := w.eng.Resend(w.ctx, r.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		if len(w.out.sent) != before+1 || !strings.Contains(w.out.sent[before].Text, "pw") {
			t.Fatalf("resend: %v", w.out.kinds())
		}
		// End now: cleanup at once.
		if r, err := w.eng.EndNow(w.ctx, r.ID, "participant"); err != nil || r.State != wod.StateEnding {
			t.Fatalf("end now: %v", err)
		}
		if _, err := w.eng.EndNow(w.ctx, r.ID, "participant"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("end twice: %v", err)
		}
		w.claim(wod.JobCleanup) // and the agent crashes...
		// Purge: the operator's way out; the cleanup is cancelled or moot.
		p, err := w.eng.Purge(w.ctx, r.ID, "ops")
		if err != nil || p.State != wod.StateFailed {
			t.Fatalf("purge: %v", err)
		}
		clock.Advance(2 * time.Minute)
		job := w.claim(wod.JobPurge)
		w.report(job, wod.AgentResult{OK: true})
		if got := w.reg(r.ID); w.seat(got) != wod.SeatFree {
			t.Fatalf("seat after purge: %s", w.seat(got))
		}
		if _, err := w.eng.Purge(w.ctx, r.ID, "ops"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("purge of a freed seat: %v", err)
		}
		if err := w.eng.Resend(w.ctx, r.ID, "ops"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("resend after the end: %v", err)
		}
	})
}

func TestResetWorkshopKeepsSeatDirty(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-B", "fay@example.com")
		create := w.claim(wod.JobCreate)
		if create.Limits != (wod.Limits{Memory: 1 << 30, Tasks: 128}) {
			t.Fatalf("the create job carries limits %+v, not the workshop's", create.Limits)
		}
		w.report(create, wod.AgentResult{OK: true, Password: "pw"})
		w.eng.EndNow(w.ctx, r.ID, "participant")
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(10)})
		r = w.reg(r.ID)
		if r.State != wod.StateDone || w.seat(r) != wod.SeatDirty || !r.SeatHeld {
			t.Fatalf("after cleanup of a reset workshop: %s seat %s", r.State, w.seat(r))
		}
		// The dirty seat is not booked again until the reset ran.
		r2 := w.register("WKSHP-B", "gus@example.com")
		if r2.StudentNumber == r.StudentNumber {
			t.Fatal("a dirty seat was booked")
		}
		job := w.claim(wod.JobReset)
		if job.Username != r.Username || !job.Reset {
			t.Fatalf("reset job: %+v", job)
		}
		w.report(job, wod.AgentResult{OK: true})
		if w.seat(r) != wod.SeatFree {
			t.Fatalf("after reset: %s", w.seat(r))
		}
	})
}

// TestNotebooksNotKept: with no notebook retention, what the agent sends
// is dropped and the goodbye offers no download.
func TestNotebooksNotKept(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.eng.NotebookRetention = 0
		r := w.register("WKSHP-A", "ida@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.eng.EndNow(w.ctx, r.ID, "participant")
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(10), Notebooks: []byte("PK zip")})
		w.tick()
		if _, err := db.FindNotebooks(w.ctx, r.ID, false); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("notebooks kept: %v", err)
		}
		if last := w.out.sent[len(w.out.sent)-1]; strings.Contains(last.Text, "notebooks.zip") {
			t.Fatalf("goodbye offers a download: %s", last.Text)
		}
	})
}

// TestAgentJobDescribesTheSeat: the agent learns from the job all it needs
// to set the seat up, the appliance and the workshop's first seat included.
func TestAgentJobDescribesTheSeat(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-C", "hal@example.com")
		j := w.claim(wod.JobCreate)
		if j.RegistrationID != r.ID || j.Workshop != "WKSHP-C" || j.StudentNumber != r.StudentNumber || j.SeatMin != 7 ||
			j.Appliance != wod.ApplianceMulti || j.Username != r.Username || j.Participant != "Ann Smith" ||
			j.SessionType != wod.SessionWorkshop || j.StudentID != w.loc.BaseStudentID+r.StudentNumber {
			t.Fatalf("create job %+v for registration %+v", j, r)
		}
	})
}

func TestBadges(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		finish := func(slug string) {
			r := w.register(slug, "hal@example.com")
			w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
			w.eng.EndNow(w.ctx, r.ID, "participant")
			job := w.claim(wod.JobCleanup)
			w.report(job, wod.AgentResult{OK: true, Completion: pct(100)})
			if slug == "WKSHP-B" {
				w.report(w.claim(wod.JobReset), wod.AgentResult{OK: true})
			}
			w.tick()
		}
		finish("WKSHP-A")
		finish("WKSHP-A") // the same workshop twice counts once
		finish("WKSHP-B")
		if got := strings.Join(w.out.kinds(), "|"); strings.Contains(got, "badge") {
			t.Fatalf("badge after two distinct workshops: %s", got)
		}
		finish("WKSHP-C")
		badges := 0
		for _, m := range w.out.sent {
			if strings.Contains(m.Subject, "Apprentice") {
				badges++
			}
		}
		if badges != 1 {
			t.Fatalf("%d Apprentice badge mails after three workshops: %v", badges, w.out.kinds())
		}
		if lvl, _ := db.BadgeLevel(w.ctx, "hal@example.com"); lvl != 1 {
			t.Fatalf("badge level %d", lvl)
		}
	})
}

func TestOutboxRetriesAndKeeps(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.out.fail = fmt.Errorf("connection refused")
		r := w.register("WKSHP-A", "ivy@example.com")
		w.tick()
		ms, _, _ := db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID})
		if ms[0].State != wod.MailQueued || ms[0].Attempts != 1 || !strings.Contains(ms[0].LastError, "refused") {
			t.Fatalf("after a failed send: %+v", ms[0])
		}
		w.out.fail = nil
		clock.Advance(14 * time.Second)
		w.tick()
		if len(w.out.sent) != 0 {
			t.Fatal("retried before the backoff")
		}
		clock.Advance(time.Second)
		w.tick()
		if len(w.out.sent) != 1 {
			t.Fatalf("after the backoff: %d sent", len(w.out.sent))
		}
		// A permanent refusal is visible, not retried.
		w.out.fail = &mail.PermanentError{Err: fmt.Errorf("550 no such user")}
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.tick()
		failed := wod.MailFailed
		ms, n, _ := db.FindMails(w.ctx, wod.MailFilter{State: &failed})
		if n != 1 || ms[0].Kind != wod.MailCredentials || !strings.Contains(ms[0].LastError, "550") {
			t.Fatalf("permanent failure: %d %+v", n, ms)
		}
		// Outbox only: kept for operators.
		w.disp.Transport = mail.Keep{}
		w.eng.EndNow(w.ctx, r.ID, "participant")
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(0)})
		w.tick()
		kept := wod.MailKept
		if _, n, _ := db.FindMails(w.ctx, wod.MailFilter{State: &kept}); n != 1 {
			t.Fatalf("kept mails: %d", n)
		}
	})
}

// TestResendLink: a participant who lost the mail gets the link again, at
// most every ten minutes, the credentials once ready; an unknown address
// gets the same silent answer.
func TestResendLink(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		send := func() int {
			t.Helper()
			n, err := w.disp.SendDue(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		w.register("WKSHP-A", "cy@example.com")
		if n := send(); n != 1 {
			t.Fatalf("welcome: %d mails", n)
		}
		if err := w.eng.ResendLink(w.ctx, " Cy@Example.com "); err != nil {
			t.Fatal(err)
		}
		if n := send(); n != 0 {
			t.Fatalf("resent within ten minutes: %d mails", n)
		}
		clock.Advance(11 * time.Minute)
		if err := w.eng.ResendLink(w.ctx, "cy@example.com"); err != nil {
			t.Fatal(err)
		}
		if n := send(); n != 1 {
			t.Fatalf("resend of the welcome: %d mails", n)
		}
		j := w.claim(wod.JobCreate)
		w.report(j, wod.AgentResult{OK: true, Password: "pw-cy"})
		send()
		clock.Advance(11 * time.Minute)
		before := len(w.out.kinds())
		if err := w.eng.ResendLink(w.ctx, "cy@example.com"); err != nil {
			t.Fatal(err)
		}
		send()
		sent := w.out.kinds()
		if len(sent) != before+1 || !strings.Contains(sent[len(sent)-1], "credentials") {
			t.Fatalf("after ready, the credentials go again: %q", sent)
		}
		if err := w.eng.ResendLink(w.ctx, "nobody@example.com"); err != nil {
			t.Fatalf("unknown address: %v", err)
		}
		if err := w.eng.ResendLink(w.ctx, "not an address"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad address: %v", err)
		}
	})
}
