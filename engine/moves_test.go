package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestMoveToLiveLocation: WKSHP-A is offered at local and hub2. hub2's
// agent claims a create and falls silent; the engine moves its pending
// registrations to local, whose agent prepares them; the silent agent's
// late report is refused; the seat it had started is purged at hub2 when
// it comes back, and freed. Each participant gets one welcome and one
// credentials mail, from the location that prepared the seat.
func TestMoveToLiveLocation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.eng.AgentStale = 2 * time.Minute
		w.eng.AgentLease = 10 * time.Minute
		hub2 := &wod.Location{Name: "hub2", HubURL: "http://hub2.test", BaseStudentID: 1000, Students: 10}
		if err := db.CreateLocation(w.ctx, hub2); err != nil {
			t.Fatal(err)
		}
		names := []int64{w.loc.ID, hub2.ID}
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{LocationIDs: &names}); err != nil {
			t.Fatal(err)
		}
		heartbeat := func(l *wod.Location) {
			t.Helper()
			if err := w.eng.Heartbeat(w.ctx, l.ID, wod.AgentHeartbeat{Health: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
		heartbeat(w.loc)
		heartbeat(hub2)

		a := w.register("WKSHP-A", "a@example.com")
		b := w.register("WKSHP-A", "b@example.com")
		if a.Location != "local" || b.Location != "hub2" {
			t.Fatalf("spread: %s %s", a.Location, b.Location)
		}
		old, err := w.eng.ClaimJob(w.ctx, hub2.ID, "agent@hub2", 0)
		if err != nil || old == nil || old.RegistrationID != b.ID || old.StudentID != 1001 {
			t.Fatalf("hub2's claim: %+v %v", old, err)
		}
		w.tick()

		// hub2 falls silent: new participants go to local, and b moves
		// there on the next pass of the timers.
		clock.Advance(3 * time.Minute)
		heartbeat(w.loc)
		c := w.register("WKSHP-A", "c@example.com")
		if c.Location != "local" {
			t.Fatalf("c at %s while hub2 is silent", c.Location)
		}
		w.tick()
		b = w.reg(b.ID)
		if b.Location != "local" || b.State != wod.StatePending || b.StudentNumber != 3 {
			t.Fatalf("b after the move: %+v", b)
		}

		// local's agent prepares all three.
		for range 3 {
			j := w.claim(wod.JobCreate)
			w.report(j, wod.AgentResult{OK: true, Password: fmt.Sprintf("pw-%s", j.Username)})
		}
		w.noJob()
		// hub2's agent comes back and reports its old attempt: refused,
		// the registration keeps the credentials local gave it.
		err = w.eng.ReportJob(w.ctx, hub2.ID, old.ID, "agent@hub2", wod.AgentResult{Attempt: old.Attempt, OK: true, Password: "stale-pw"})
		if code := wod.ErrorCode(err); code != wod.ENOTFOUND && code != wod.ECONFLICT {
			t.Fatalf("the silent agent's report: %v", err)
		}
		heartbeat(hub2)
		// Its seat waits for the purge, which waits for the old lease.
		if j, err := w.eng.ClaimJob(w.ctx, hub2.ID, "agent@hub2", 0); err != nil || j != nil {
			t.Fatalf("hub2 claims %+v %v before its old lease ended", j, err)
		}
		clock.Advance(10 * time.Minute)
		heartbeat(w.loc)
		heartbeat(hub2)
		purge, err := w.eng.ClaimJob(w.ctx, hub2.ID, "agent@hub2", 0)
		if err != nil || purge == nil || purge.Kind != wod.JobPurge || purge.Username != "student1" || purge.StudentID != 1001 {
			t.Fatalf("purge at hub2: %+v %v", purge, err)
		}
		if err := w.eng.ReportJob(w.ctx, hub2.ID, purge.ID, "agent@hub2", wod.AgentResult{Attempt: purge.Attempt, OK: true}); err != nil {
			t.Fatal(err)
		}
		seats, _, _ := db.FindSeats(w.ctx, wod.SeatFilter{LocationID: &hub2.ID, Page: wod.Page{Limit: 100}})
		for _, s := range seats {
			if s.State != wod.SeatFree {
				t.Fatalf("hub2's seat %d is %s", s.Number, s.State)
			}
		}
		w.tick()
		for _, r := range []*wod.Registration{a, b, c} {
			r = w.reg(r.ID)
			if r.State != wod.StateReady || r.Location != "local" {
				t.Fatalf("registration %d: %s at %s", r.ID, r.State, r.Location)
			}
			mails, _, _ := db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID})
			kinds := map[wod.MailKind]int{}
			for _, m := range mails {
				kinds[m.Kind]++
			}
			if len(mails) != 2 || kinds[wod.MailWelcome] != 1 || kinds[wod.MailCredentials] != 1 {
				t.Fatalf("mails of %s: %v", r.Email, kinds)
			}
		}
		for _, m := range w.out.sent {
			if strings.Contains(m.Text, "stale-pw") || strings.Contains(m.Text, "hub2.test") {
				t.Fatalf("a mail names the silent location: %s", m.Text)
			}
		}
		if !strings.Contains(w.out.sent[len(w.out.sent)-1].Text, "http://hub.test") {
			t.Fatalf("credentials without local's hub: %s", w.out.sent[len(w.out.sent)-1].Text)
		}
	})
}
