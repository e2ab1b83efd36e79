package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// waitFor books a seat or joins the line, as the engine's Register does
// with "wait": true.
func waitFor(db *store.DB, workshop, email string) (*wod.Registration, error) {
	return db.CreateRegistration(context.Background(), &wod.NewRegistration{
		Request: wod.RegistrationRequest{Workshop: workshop, Name: "Wes Wait", Email: email, Wait: true},
		Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: t0}},
		Wait: &wod.WaitPlan{ProvisionTimeout: 7 * time.Minute,
			Jobs:  []*wod.Job{{Kind: wod.JobWaitNotice, RunAt: t0}, {Kind: wod.JobWaitExpire, RunAt: t0.Add(2 * time.Hour)}},
			Mails: []*wod.Mail{{Kind: wod.MailWaiting, To: email, Subject: "In line", Text: "wait"}}},
	})
}

// endSession takes a registration through ending to done, freeing its seat
// in the transaction that finishes it.
func endSession(t *testing.T, db *store.DB, id int64) *wod.Registration {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: id, From: wod.EndableStates, To: wod.StateEnding}); err != nil {
		t.Fatal(err)
	}
	free := wod.SeatFree
	r, err := db.Transition(ctx, &wod.Transition{RegistrationID: id, From: []wod.RegistrationState{wod.StateEnding},
		To: wod.StateDone, Seat: &free})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jobsOf(t *testing.T, db *store.DB, id int64) map[wod.JobKind]*wod.Job {
	t.Helper()
	js, _, err := db.FindJobs(context.Background(), wod.JobFilter{RegistrationID: &id})
	if err != nil {
		t.Fatal(err)
	}
	out := map[wod.JobKind]*wod.Job{}
	for _, j := range js {
		out[j.Kind] = j
	}
	return out
}

func TestWaitingLineHandover(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 3, 3, 5) // one seat
		a, err := register(db, w.Slug, "a@example.com")
		if err != nil {
			t.Fatal(err)
		}
		// Full: without waiting, EFULL that says the line exists.
		_, err = register(db, w.Slug, "b@example.com")
		if wod.ErrorCode(err) != wod.EFULL || !strings.Contains(fmt.Sprint(err), "waiting line") {
			t.Fatalf("full without wait: %v", err)
		}
		b, err := waitFor(db, w.Slug, "b@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if b.State != wod.StateWaiting || b.Place != 1 || b.SeatID != nil || b.SeatHeld || b.WaitingSince == nil {
			t.Fatalf("waiter: %+v", b)
		}
		clock.Advance(time.Minute)
		c, err := waitFor(db, w.Slug, "c@example.com")
		if err != nil || c.Place != 2 {
			t.Fatalf("second waiter: %+v %v", c, err)
		}
		// A waiter holds the address like any live registration.
		if _, err := waitFor(db, w.Slug, "b@example.com"); wod.ErrorCode(err) != wod.EALREADYREGISTERED {
			t.Fatalf("waiter registering again: %v", err)
		}
		// Waiters count in no capacity.
		if got, _ := db.FindWorkshop(ctx, w.Slug); got.SeatsFree != 0 {
			t.Fatalf("seats free with a full workshop and waiters: %d", got.SeatsFree)
		}
		if js := jobsOf(t, db, b.ID); js[wod.JobCreate] != nil || js[wod.JobWaitExpire] == nil || js[wod.JobWaitNotice] == nil {
			t.Fatalf("waiter's jobs: %v", js)
		}
		if ms, n, _ := db.FindMails(ctx, wod.MailFilter{RegistrationID: &b.ID}); n != 1 || ms[0].Kind != wod.MailWaiting {
			t.Fatalf("waiter's mails: %v", ms)
		}

		// A ends: in the very transaction that frees the seat, B gets it,
		// with the create and the watchdog Register would schedule.
		clock.Advance(time.Minute)
		endSession(t, db, a.ID)
		b, _ = db.FindRegistration(ctx, b.ID)
		if b.State != wod.StatePending || !b.SeatHeld || b.StudentNumber != 3 || b.Place != 0 || b.SeatedAt == nil ||
			b.WaitedFor(clock.Now()) != 2*time.Minute {
			t.Fatalf("first waiter after the seat freed: %+v", b)
		}
		js := jobsOf(t, db, b.ID)
		if js[wod.JobCreate] == nil || js[wod.JobCreate].State != wod.JobQueued || !js[wod.JobCreate].RunAt.Equal(clock.Now()) ||
			js[wod.JobWatchdog] == nil || !js[wod.JobWatchdog].RunAt.Equal(clock.Now().Add(7*time.Minute)) ||
			js[wod.JobWaitExpire].State != wod.JobCancelled || js[wod.JobWaitNotice].State != wod.JobCancelled {
			t.Fatalf("jobs after the handover: %+v", js)
		}
		c, _ = db.FindRegistration(ctx, c.ID)
		if c.State != wod.StateWaiting || c.Place != 1 {
			t.Fatalf("second waiter moves up: %+v", c)
		}
		// Nobody jumps the line: with C waiting, a newcomer waits behind.
		one := 2
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Capacity: &one}); err != nil {
			t.Fatal(err)
		}
		// Capacity grew but the range has one seat: C still waits.
		c, _ = db.FindRegistration(ctx, c.ID)
		if c.State != wod.StateWaiting {
			t.Fatalf("waiter without a seat in range: %+v", c)
		}
		d, err := register(db, w.Slug, "d@example.com")
		if wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("newcomer while others wait: %+v %v", d, err)
		}
		// A wider range gives C a seat at once (the operator's PATCH).
		four := 4
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{SeatMax: &four}); err != nil {
			t.Fatal(err)
		}
		c, _ = db.FindRegistration(ctx, c.ID)
		if c.State != wod.StatePending || c.StudentNumber != 4 {
			t.Fatalf("waiter after the range grew: %+v", c)
		}
	})
}

func TestWaitingLineSharedRangeAndClosedWorkshop(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 10, 1, 1, 5)
		// A second workshop on the same seat, and a third on another seat.
		other := &wod.Workshop{Slug: "WKSHP-Other", Title: "Other", Duration: wod.Duration(time.Hour), Capacity: 5,
			SeatMin: 1, SeatMax: 1, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
		far := &wod.Workshop{Slug: "WKSHP-Far", Title: "Far", Duration: wod.Duration(time.Hour), Capacity: 1,
			SeatMin: 2, SeatMax: 2, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
		for _, x := range []*wod.Workshop{other, far} {
			if err := db.CreateWorkshop(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := register(db, w.Slug, "a@example.com")
		f, _ := register(db, far.Slug, "f@example.com")
		farWaiter, err := waitFor(db, far.Slug, "fw@example.com")
		if err != nil || farWaiter.State != wod.StateWaiting {
			t.Fatal(farWaiter, err)
		}
		clock.Advance(time.Second)
		o, err := waitFor(db, other.Slug, "o@example.com")
		if err != nil || o.State != wod.StateWaiting {
			t.Fatal(o, err)
		}
		clock.Advance(time.Second)
		x, _ := waitFor(db, w.Slug, "x@example.com")
		// The waiter of a closed workshop gets nothing; its wait-expire
		// timer falls due at once so the engine can tell them.
		off := false
		if _, err := db.UpdateWorkshop(ctx, other.Slug, wod.WorkshopUpdate{Active: &off}); err != nil {
			t.Fatal(err)
		}
		if j := jobsOf(t, db, o.ID)[wod.JobWaitExpire]; !j.RunAt.Equal(clock.Now()) {
			t.Fatalf("closed workshop's waiter: wait-expire due %v, want now", j.RunAt)
		}
		// Seat 1 frees: it is outside far's range, and other is closed, so
		// it goes to X (who joined after O and after far's waiter).
		endSession(t, db, a.ID)
		for id, want := range map[int64]wod.RegistrationState{o.ID: wod.StateWaiting, farWaiter.ID: wod.StateWaiting, x.ID: wod.StatePending} {
			if r, _ := db.FindRegistration(ctx, id); r.State != want {
				t.Fatalf("registration %s: %s, want %s", r.Email, r.State, want)
			}
		}
		// Seat 2 frees: far's waiter.
		endSession(t, db, f.ID)
		if r, _ := db.FindRegistration(ctx, farWaiter.ID); r.State != wod.StatePending || r.StudentNumber != 2 {
			t.Fatalf("far waiter: %+v", r)
		}
	})
}

// Two seats freed at once (on PostgreSQL, in concurrent transactions)
// never go to the same waiter, and every waiter gets at most one seat.
func TestWaitingLineConcurrentFrees(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		const seats = 6
		_, w := fixture(t, db, 10, 1, seats, seats)
		var holders []*wod.Registration
		for i := range seats {
			r, err := register(db, w.Slug, fmt.Sprintf("h%d@example.com", i))
			if err != nil {
				t.Fatal(err)
			}
			holders = append(holders, r)
		}
		var waiters []*wod.Registration
		for i := range seats + 2 {
			r, err := waitFor(db, w.Slug, fmt.Sprintf("w%d@example.com", i))
			if err != nil || r.State != wod.StateWaiting || r.Place != i+1 {
				t.Fatalf("waiter %d: %+v %v", i, r, err)
			}
			waiters = append(waiters, r)
			clock.Advance(time.Millisecond)
		}
		for _, h := range holders {
			if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: h.ID, From: wod.EndableStates, To: wod.StateEnding}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, seats)
		for _, h := range holders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				free := wod.SeatFree
				_, err := db.Transition(ctx, &wod.Transition{RegistrationID: h.ID, From: []wod.RegistrationState{wod.StateEnding},
					To: wod.StateDone, Seat: &free})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		seen := map[int]int64{}
		for i, x := range waiters {
			r, _ := db.FindRegistration(ctx, x.ID)
			switch {
			case i < seats && (r.State != wod.StatePending || !r.SeatHeld):
				t.Errorf("waiter %d (first %d of the line) did not get a seat: %+v", i, seats, r)
			case i >= seats && (r.State != wod.StateWaiting || r.Place != i-seats+1):
				t.Errorf("waiter %d should still wait at place %d: %+v", i, i-seats+1, r)
			}
			if r.SeatHeld {
				if prev, ok := seen[r.StudentNumber]; ok {
					t.Errorf("seat %d given to registrations %d and %d", r.StudentNumber, prev, r.ID)
				}
				seen[r.StudentNumber] = r.ID
				if n := len(jobsOf(t, db, r.ID)); n != 4 {
					t.Errorf("waiter %d has %d jobs, want create, watchdog and the two cancelled wait timers", i, n)
				}
			}
		}
		assigned := wod.SeatAssigned
		if _, n, _ := db.FindSeats(ctx, wod.SeatFilter{State: &assigned}); n != seats {
			t.Errorf("%d seats assigned, want %d", n, seats)
		}
	})
}

func TestWaitEstimate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 2, 2)
		a, _ := register(db, w.Slug, "a@example.com")
		b, _ := register(db, w.Slug, "b@example.com")
		for i, r := range []*wod.Registration{a, b} {
			ends := clock.Now().Add(time.Duration(30*(i+1)) * time.Minute)
			if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
				To: wod.StateReady, EndsAt: &ends}); err != nil {
				t.Fatal(err)
			}
		}
		x, _ := waitFor(db, w.Slug, "x@example.com")
		y, _ := waitFor(db, w.Slug, "y@example.com")
		z, _ := waitFor(db, w.Slug, "z@example.com")
		cleanup := 30 * time.Second // nothing measured yet
		for _, c := range []struct {
			r    *wod.Registration
			want time.Time
		}{
			{x, clock.Now().Add(30*time.Minute + cleanup)},
			{y, clock.Now().Add(60*time.Minute + cleanup)},
			// Round two: A's seat again, a session and a cleanup later.
			{z, clock.Now().Add(30*time.Minute + cleanup + 2*time.Hour + cleanup)},
		} {
			at, ok, err := db.WaitEstimate(ctx, c.r)
			if err != nil || !ok || !at.Equal(c.want) {
				t.Errorf("estimate for place %d: %v %v %v, want %v", c.r.Place, at, ok, err, c.want)
			}
		}
		if _, ok, _ := db.WaitEstimate(ctx, a); ok {
			t.Error("a registration that does not wait has an estimate")
		}
	})
}

// Participants joining the line while seats free, all at once: whatever
// the interleaving, no seat stays free while someone it fits waits, and no
// seat goes to two registrations.
func TestWaitingLineJoinWhileFreeing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		const seats, joiners = 4, 6
		_, w := fixture(t, db, 10, 1, seats, seats)
		for round := range 3 {
			var holders []*wod.Registration
			for i := range seats {
				r, err := register(db, w.Slug, fmt.Sprintf("h%d-%d@example.com", round, i))
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: wod.EndableStates, To: wod.StateEnding}); err != nil {
					t.Fatal(err)
				}
				holders = append(holders, r)
			}
			var wg sync.WaitGroup
			errs := make(chan error, seats+joiners)
			for _, h := range holders {
				wg.Go(func() {
					free := wod.SeatFree
					_, err := db.Transition(ctx, &wod.Transition{RegistrationID: h.ID, From: []wod.RegistrationState{wod.StateEnding},
						To: wod.StateDone, Seat: &free})
					errs <- err
				})
			}
			for i := range joiners {
				wg.Go(func() {
					_, err := waitFor(db, w.Slug, fmt.Sprintf("j%d-%d@example.com", round, i))
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			free, waiting := wod.SeatFree, wod.StateWaiting
			_, nFree, _ := db.FindSeats(ctx, wod.SeatFilter{State: &free})
			ws, nWaiting, _ := db.FindRegistrations(ctx, wod.RegistrationFilter{State: &waiting})
			// Four seats, six joiners: two wait, no seat in the range is free.
			if nWaiting != joiners-seats || nFree != 10-seats {
				t.Fatalf("round %d: %d waiting, %d seats free (want %d and %d)", round, nWaiting, nFree, joiners-seats, 10-seats)
			}
			// Next round: everyone of this one leaves.
			all, _, _ := db.FindRegistrations(ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 1000}})
			for _, r := range all {
				switch r.State {
				case wod.StatePending:
					endSession(t, db, r.ID)
				}
			}
			for _, r := range ws {
				if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateWaiting}, To: wod.StateLeft}); err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
					t.Fatal(err)
				}
			}
			// Those still waiting when the joiners' seats freed got them: end those too.
			all, _, _ = db.FindRegistrations(ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 1000}})
			for _, r := range all {
				if r.State == wod.StatePending {
					endSession(t, db, r.ID)
				}
			}
		}
	})
}

// Waiters count in the dashboard's live states, never as taken seats; who
// left the line without a seat never took part and counts in no workshop
// statistic.
func TestWaitingLineStatistics(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 1, 1)
		if _, err := register(db, w.Slug, "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := waitFor(db, w.Slug, "x@example.com"); err != nil {
			t.Fatal(err)
		}
		y, _ := waitFor(db, w.Slug, "y@example.com")
		if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: y.ID, From: []wod.RegistrationState{wod.StateWaiting}, To: wod.StateLeft}); err != nil {
			t.Fatal(err)
		}
		d, err := db.Dashboard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.ByState[wod.StateWaiting] != 1 || d.ByState[wod.StateLeft] != 1 || d.ByState[wod.StatePending] != 1 {
			t.Fatalf("by state: %v", d.ByState)
		}
		for _, l := range d.Workshops {
			if l.Slug == w.Slug && (l.Taken != 1 || l.Free != 0) {
				t.Fatalf("workshop load with a waiter: %+v", l)
			}
		}
		stats, err := db.WorkshopStats(ctx, clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 1 || stats[0].Registrations != 2 {
			t.Fatalf("workshop stats count who left the line: %+v", stats)
		}
	})
}
