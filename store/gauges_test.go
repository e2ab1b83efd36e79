package store_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestGauges(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		g, err := db.Gauges(ctx)
		if err != nil || len(g.Registrations) != 0 || g.OldestDueJob != nil || g.OldestDueMail != nil {
			t.Fatalf("empty store: %+v %v", g, err)
		}

		l, a := fixture(t, db, 12, 1, 10, 8)
		finish(t, db, mustRegister(t, db, a.Slug, "done@example.com"), wod.StateDone, new(50), wod.SeatFree)
		finish(t, db, mustRegister(t, db, a.Slug, "dirty@example.com"), wod.StateDone, new(80), wod.SeatDirty)
		finish(t, db, mustRegister(t, db, a.Slug, "failed@example.com"), wod.StateFailed, nil, wod.SeatFree)
		due := clock.Now()
		if _, err := db.CreateRegistration(ctx, &wod.NewRegistration{
			Request: wod.RegistrationRequest{Workshop: a.Slug, Name: "Ann", Email: "live@example.com"},
			Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: due}, {Kind: wod.JobWatchdog, RunAt: due.Add(time.Hour)}},
			Mails:   []*wod.Mail{{Kind: wod.MailWelcome, To: "live@example.com", Subject: "Welcome", Text: "hi"}},
		}); err != nil {
			t.Fatal(err)
		}
		storetest.FailedJob(t, db, wod.JobReset, l.ID, "disk full")
		if _, err := db.Heartbeat(ctx, l.ID, "ok", nil, clock.Now()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(90 * time.Second)

		g, err = db.Gauges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantRegs := map[wod.RegistrationState]int{wod.StateDone: 2, wod.StateFailed: 1, wod.StatePending: 1}
		if !maps.Equal(g.Registrations, wantRegs) {
			t.Fatalf("registrations %v, want %v", g.Registrations, wantRegs)
		}
		wantSeats := []wod.SeatCount{{Location: "local", State: wod.SeatAssigned, Count: 1},
			{Location: "local", State: wod.SeatDirty, Count: 1}, {Location: "local", State: wod.SeatFree, Count: 10}}
		if !slices.Equal(g.Seats, wantSeats) {
			t.Fatalf("seats %+v, want %+v", g.Seats, wantSeats)
		}
		// The watchdog is not due yet; the create job is, for 90 s.
		wantJobs := []wod.JobCount{{Kind: wod.JobCreate, State: wod.JobQueued, Count: 1},
			{Kind: wod.JobReset, State: wod.JobFailed, Count: 1}, {Kind: wod.JobWatchdog, State: wod.JobQueued, Count: 1}}
		if !slices.Equal(g.Jobs, wantJobs) {
			t.Fatalf("jobs %+v, want %+v", g.Jobs, wantJobs)
		}
		if g.OldestDueJob == nil || !g.OldestDueJob.Equal(due) || g.OldestDueMail == nil || clock.Now().Sub(*g.OldestDueMail) < 90*time.Second {
			t.Fatalf("oldest due job %v, mail %v; want %v", g.OldestDueJob, g.OldestDueMail, due)
		}
		if g.Mails[wod.MailQueued] != 1 || len(g.Mails) != 1 {
			t.Fatalf("mails %v", g.Mails)
		}
		if len(g.Workshops) != 1 || g.Workshops[0].Taken != 1 || g.Workshops[0].Dirty != 1 || g.Workshops[0].Free != 7 {
			t.Fatalf("workshops %+v", g.Workshops)
		}
		if len(g.Locations) != 1 || g.Locations[0].LastHeartbeat == nil || g.Locations[0].Health != "ok" {
			t.Fatalf("locations %+v", g.Locations)
		}
	})
}
