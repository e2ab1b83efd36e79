package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func (w *world) wait(workshop, email string) *wod.Registration {
	w.t.Helper()
	r, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: workshop, Name: "Wes Wait", Email: email, Wait: true})
	if err != nil {
		w.t.Fatalf("register with wait: %v", err)
	}
	return r
}

// mailsTo lists the subjects sent to an address, in order.
func (w *world) mailsTo(addr string) []string {
	w.t.Helper()
	w.out.mu.Lock()
	defer w.out.mu.Unlock()
	var out []string
	for _, m := range w.out.sent {
		if m.To == addr {
			out = append(out, m.Subject)
		}
	}
	return out
}

// fill books every seat of WKSHP-A (capacity 3) and makes them ready.
func (w *world) fill() []*wod.Registration {
	w.t.Helper()
	var rs []*wod.Registration
	for _, e := range []string{"a1@example.com", "a2@example.com", "a3@example.com"} {
		r := w.register("WKSHP-A", e)
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw-" + e})
		rs = append(rs, w.reg(r.ID))
	}
	w.tick()
	return rs
}

func TestWaitingLineLife(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		holders := w.fill()

		// Full: refused without "wait", and the refusal says waiting is possible.
		_, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Bob", Email: "bob@example.com"})
		if wod.ErrorCode(err) != wod.EFULL || !strings.Contains(err.Error(), "waiting line") {
			t.Fatalf("full without wait: %v", err)
		}
		b := w.wait("WKSHP-A", "bob@example.com")
		if b.State != wod.StateWaiting || b.Place != 1 {
			t.Fatalf("waiter: %+v", b)
		}
		w.noJob() // no seat, no create
		w.tick()
		w.tick() // the waiting mail goes once, however often the timers run
		if got := w.mailsTo("bob@example.com"); len(got) != 1 || !strings.Contains(got[0], "in the line") {
			t.Fatalf("mails to the waiter: %v", got)
		}
		m := w.out.sent[len(w.out.sent)-1]
		if !strings.Contains(m.Text, "number 1") || !strings.Contains(m.Text, w.eng.StatusURL(b.ID)) ||
			!strings.Contains(m.Text, "We expect a seat") {
			t.Fatalf("waiting mail:\n%s", m.Text)
		}

		// A participant ends early: cleanup done frees the seat, and in
		// that transaction it is Bob's.
		clock.Advance(10 * time.Minute)
		if _, err := w.eng.EndNow(w.ctx, holders[1].ID, "participant"); err != nil {
			t.Fatal(err)
		}
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(50), Seconds: 4})
		b = w.reg(b.ID)
		if b.State != wod.StatePending || b.StudentNumber != holders[1].StudentNumber || b.WaitedFor(clock.Now()) != 10*time.Minute {
			t.Fatalf("waiter after the seat freed: %+v", b)
		}
		job := w.claim(wod.JobCreate)
		if job.RegistrationID != b.ID || job.Username != holders[1].Username {
			t.Fatalf("create for the waiter: %+v", job)
		}
		w.report(job, wod.AgentResult{OK: true, Password: "pw-Bob-Seat-9"})
		w.tick()
		got := w.mailsTo("bob@example.com")
		if len(got) != 2 || !strings.Contains(got[1], "your seat is ready") {
			t.Fatalf("mails to the waiter: %v", got)
		}
		creds := w.out.sent[len(w.out.sent)-1]
		if !strings.Contains(creds.Text, "Your seat is ready!") || !strings.Contains(creds.Text, "pw-Bob-Seat-9") {
			t.Fatalf("credentials from the line:\n%s", creds.Text)
		}
		if r := w.reg(b.ID); r.State != wod.StateReady {
			t.Fatalf("waiter now: %s", r.State)
		}
		// The wait's timers are moot: nothing more is sent.
		clock.Advance(3 * time.Hour)
		w.tick()
		for _, s := range w.mailsTo("bob@example.com") {
			if strings.Contains(s, "no seat came free") {
				t.Fatalf("a seated waiter was told no seat came free: %v", w.mailsTo("bob@example.com"))
			}
		}
	})
}

func TestWaitingLineLeaveAndExpire(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.eng.WaitMax = time.Hour
		w.fill()
		c := w.wait("WKSHP-A", "carol@example.com")
		d := w.wait("WKSHP-A", "dan@example.com")
		if d.Place != 2 {
			t.Fatalf("second in line: %+v", d)
		}
		w.tick() // the waiting mails
		// Carol leaves: Dan moves up; her address is free again.
		if _, err := w.eng.LeaveLine(w.ctx, c.ID, "participant"); err != nil {
			t.Fatal(err)
		}
		if r := w.reg(c.ID); r.State != wod.StateLeft || r.EndedAt == nil {
			t.Fatalf("after leaving: %+v", r)
		}
		if r := w.reg(d.ID); r.Place != 1 {
			t.Fatalf("Dan's place: %d", r.Place)
		}
		if _, err := w.eng.LeaveLine(w.ctx, c.ID, "participant"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("leaving twice: %v", err)
		}
		w.tick()
		// Dan waits an hour: one polite mail, the registration ends.
		clock.Advance(time.Hour + time.Second)
		w.tick()
		w.tick()
		if r := w.reg(d.ID); r.State != wod.StateLeft || !strings.Contains(r.Error, "waited") {
			t.Fatalf("after wait-max: %+v", r)
		}
		got := w.mailsTo("dan@example.com")
		if len(got) != 2 || !strings.Contains(got[1], "no seat came free") {
			t.Fatalf("mails to Dan: %v", got)
		}
		if len(w.mailsTo("carol@example.com")) != 1 {
			t.Fatalf("Carol, who left by herself, got %v", w.mailsTo("carol@example.com"))
		}
		// Both can register again (the line is empty, the workshop still full).
		if r := w.wait("WKSHP-A", "dan@example.com"); r.State != wod.StateWaiting || r.Place != 1 {
			t.Fatalf("Dan again: %+v", r)
		}
	})
}

func TestWaitingLineInactiveWorkshop(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.fill()
		e := w.wait("WKSHP-A", "eve@example.com")
		w.tick()
		off := false
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Active: &off}); err != nil {
			t.Fatal(err)
		}
		// Nobody joins the line of a closed workshop.
		_, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "F", Email: "f@example.com", Wait: true})
		if wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("waiting for an inactive workshop: %v", err)
		}
		// The waiter is told at once, once.
		w.tick()
		w.tick()
		if r := w.reg(e.ID); r.State != wod.StateLeft || !strings.Contains(r.Error, "closed") {
			t.Fatalf("waiter of a closed workshop: %+v", r)
		}
		got := w.mailsTo("eve@example.com")
		if len(got) != 2 || !strings.Contains(got[1], "no seat came free") {
			t.Fatalf("mails to Eve: %v", got)
		}
		if m := w.out.sent[len(w.out.sent)-1]; !strings.Contains(m.Text, "no longer open") {
			t.Fatalf("closed-workshop mail:\n%s", m.Text)
		}
	})
}

func TestWaitingLineCapacityGrows(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		// Capacity 1 of a three-seat range: the second participant waits.
		one := 1
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Capacity: &one}); err != nil {
			t.Fatal(err)
		}
		w.register("WKSHP-A", "a@example.com")
		g := w.wait("WKSHP-A", "gus@example.com")
		if g.State != wod.StateWaiting {
			t.Fatalf("over capacity: %+v", g)
		}
		two := 2
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Capacity: &two}); err != nil {
			t.Fatal(err)
		}
		if r := w.reg(g.ID); r.State != wod.StatePending || r.StudentNumber != 2 {
			t.Fatalf("after the capacity grew: %+v", r)
		}
		w.claim(wod.JobCreate)
		j := w.claim(wod.JobCreate)
		if j.RegistrationID != g.ID {
			t.Fatalf("second create is not the waiter's: %+v", j)
		}
	})
}

// Whoever still waits when the workshop's closing time comes leaves the
// line once, with the wait-expired mail that says it closed; a closing
// time moved later lets them wait on; running sessions are not cut.
func TestWaitingLineWorkshopCloses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		holders := w.fill()
		setCloses := func(at time.Time) {
			t.Helper()
			if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Closes: &at}); err != nil {
				t.Fatal(err)
			}
		}
		setCloses(clock.Now().Add(20 * time.Minute))
		e := w.wait("WKSHP-A", "eve@example.com")
		w.tick()
		if m := w.out.sent[len(w.out.sent)-1]; !strings.Contains(m.Text, "within 20 minutes") {
			t.Fatalf("the waiting mail does not say the wait ends at the closing time:\n%s", m.Text)
		}
		// Moved later: the end of the wait, due at the old time, waits on.
		setCloses(clock.Now().Add(40 * time.Minute))
		clock.Advance(20*time.Minute + time.Second)
		w.tick()
		if r := w.reg(e.ID); r.State != wod.StateWaiting {
			t.Fatalf("waiter after the closing time moved later: %+v", r)
		}
		clock.Advance(20 * time.Minute)
		for range 3 {
			w.tick()
		}
		if r := w.reg(e.ID); r.State != wod.StateLeft || !strings.Contains(r.Error, "closed for registration") {
			t.Fatalf("waiter of a closed workshop: %+v", r)
		}
		got := w.mailsTo("eve@example.com")
		if len(got) != 2 || !strings.Contains(got[1], "no seat came free") {
			t.Fatalf("mails to Eve: %v", got)
		}
		if m := w.out.sent[len(w.out.sent)-1]; !strings.Contains(m.Text, "no longer open") {
			t.Fatalf("closed-workshop mail:\n%s", m.Text)
		}
		// Nobody joins the line now, and the sessions run on.
		_, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "F", Email: "f@example.com", Wait: true})
		if wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(err.Error(), "closed for registration") {
			t.Fatalf("waiting for a closed workshop: %v", err)
		}
		for _, h := range holders {
			if r := w.reg(h.ID); r.State != wod.StateReady {
				t.Fatalf("a session of the closed workshop: %+v", r)
			}
		}
		// A seat freed later goes to nobody, and nothing more is sent.
		if _, err := w.eng.EndNow(w.ctx, holders[0].ID, "participant"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			w.tick()
		}
		if got := w.mailsTo("eve@example.com"); len(got) != 2 {
			t.Fatalf("mails to Eve after a seat freed: %v", got)
		}
	})
}
