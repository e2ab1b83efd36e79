package engine_test

import (
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestRehearsalSeat walks a rehearsal's robot through a participant's
// transitions: the same agent jobs, no mail, credentials from the store,
// the completion recorded, the seat freed; and never the last free seat.
func TestRehearsalSeat(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		h := &wod.Rehearsal{Workshop: "WKSHP-A", RequestedBy: "ops"}
		if err := db.CreateRehearsal(w.ctx, h); err != nil {
			t.Fatal(err)
		}
		r, err := w.eng.RegisterRehearsal(w.ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		// The highest seat of WKSHP-A's 1-3, out of the participants' way.
		if r.StudentNumber != 3 || r.RehearsalID == nil || r.State != wod.StatePending {
			t.Fatalf("robot's registration: %+v", r)
		}
		job := w.claim(wod.JobCreate)
		if job.Username != "student3" || job.Workshop != "WKSHP-A" {
			t.Fatalf("create job: %+v", job)
		}
		w.report(job, wod.AgentResult{OK: true, Password: "robot-pw"})
		r = w.reg(r.ID)
		creds, err := w.eng.RehearsalCredentials(w.ctx, r)
		if err != nil || r.State != wod.StateReady || creds.Password != "robot-pw" || creds.Username != "student3" ||
			creds.LoginURL != "http://hub.test/hub/login" {
			t.Fatalf("ready: %s %+v %v", r.State, creds, err)
		}
		// A participant and a second robot: the robot would take the last seat.
		w.register("WKSHP-A", "ann@example.com")
		h2 := &wod.Rehearsal{Workshop: "WKSHP-A"}
		if err := db.CreateRehearsal(w.ctx, h2); err != nil {
			t.Fatal(err)
		}
		if _, err := w.eng.RegisterRehearsal(w.ctx, h2); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("second robot: %v", err)
		}

		if _, err := w.eng.EndNow(w.ctx, r.ID, "rehearsal"); err != nil {
			t.Fatal(err)
		}
		w.claim(wod.JobCreate) // Ann's
		job = w.claim(wod.JobCleanup)
		w.report(job, wod.AgentResult{OK: true, Completion: pct(100), Notebooks: []byte("zip")})
		w.tick()
		if r = w.reg(r.ID); r.State != wod.StateDone || r.Completion == nil || *r.Completion != 100 || w.seat(r) != wod.SeatFree {
			t.Fatalf("after cleanup: %+v seat %s", r, w.seat(r))
		}
		ms, _, err := db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID})
		if err != nil || len(ms) != 0 {
			t.Fatalf("the robot got mails: %v %v", ms, err)
		}
		if _, err := db.FindNotebooks(w.ctx, r.ID, false); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("the robot's notebooks were kept: %v", err)
		}
		// Nobody counts it: no badge, no participant figure.
		if n, err := db.FinishedWorkshops(w.ctx, r.Email); err != nil || n != 0 {
			t.Fatalf("finished workshops of the robot: %d %v", n, err)
		}
	})
}
