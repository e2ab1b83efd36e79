package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// warmUp runs the keeper for the workshop and makes every warm job it
// scheduled report, each with its own sealed password.
func warmUp(t *testing.T, db *store.DB, w *wod.Workshop) (scheduled int) {
	t.Helper()
	ctx := context.Background()
	_, n, err := db.KeepWarm(ctx, w.ID, w.LocationID)
	if err != nil {
		t.Fatal(err)
	}
	jobs, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobWarm}, &w.LocationID, "agent", time.Minute, 100)
	if err != nil || len(jobs) != n {
		t.Fatalf("claim warm jobs: %d of %d, %v", len(jobs), n, err)
	}
	for _, j := range jobs {
		if warm, err := db.WarmReady(ctx, &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts},
			[]byte(fmt.Sprintf("sealed-%d", j.ID))); err != nil || !warm {
			t.Fatalf("warm ready %d: %v %v", j.ID, warm, err)
		}
	}
	return n
}

func warmBooking(workshop, email string) *wod.NewRegistration {
	return &wod.NewRegistration{
		Request: wod.RegistrationRequest{Workshop: workshop, Name: "Ann", Email: email},
		Jobs:    []*wod.Job{{Kind: wod.JobCreate}},
		Warm: func(r *wod.Registration, w *wod.Workshop) (*wod.Transition, error) {
			if w.Slug != workshop || r.WorkshopID != w.ID {
				return nil, fmt.Errorf("warm booking of %s given workshop %s (%d)", workshop, w.Slug, w.ID)
			}
			now := t0
			return &wod.Transition{From: []wod.RegistrationState{wod.StatePending}, To: wod.StateReady, ReadyAt: &now,
				Jobs: []*wod.Job{{Kind: wod.JobExpire, RunAt: now.Add(time.Hour)}}}, nil
		},
	}
}

// TestWarmPoolOneOwner: concurrent bookings each get a seat of their own;
// those that found a warm seat are ready in the booking's transaction with
// that seat's password and no create job, the others are cold.
func TestWarmPoolOneOwner(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 10, 10)
		four := wod.WarmPool(4)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &four}); err != nil {
			t.Fatal(err)
		}
		if n := warmUp(t, db, w); n != 4 {
			t.Fatalf("scheduled %d warm jobs, want 4", n)
		}
		pools, err := db.WarmPools(ctx)
		if err != nil || len(pools) != 1 || pools[0].Warm != 4 || pools[0].Warming != 0 || pools[0].Target != 4 {
			t.Fatalf("pools: %+v %v", pools, err)
		}
		if got, _ := db.FindWorkshop(ctx, w.Slug); got.SeatsFree != 10 {
			t.Fatalf("seats free with 4 warm: %d, want 10 (warm seats count as free)", got.SeatsFree)
		}
		warmSeats := map[int]bool{}
		seats, _, _ := db.FindSeats(ctx, wod.SeatFilter{})
		for _, s := range seats {
			if s.State == wod.SeatWarm {
				warmSeats[s.Number] = true
				if s.WarmWorkshop != w.Slug || s.WarmedAt == nil {
					t.Fatalf("warm seat: %+v", s)
				}
			}
		}

		var wg sync.WaitGroup
		regs := make([]*wod.Registration, 8)
		errs := make([]error, 8)
		for i := range regs {
			wg.Go(func() {
				regs[i], errs[i] = db.CreateRegistration(ctx, warmBooking(w.Slug, fmt.Sprintf("p%d@example.com", i)))
			})
		}
		wg.Wait()
		seatOwner := map[int]int64{}
		ready := 0
		for i, r := range regs {
			if errs[i] != nil {
				t.Fatalf("booking %d: %v", i, errs[i])
			}
			if prev, dup := seatOwner[r.StudentNumber]; dup {
				t.Fatalf("seat %d given to registrations %d and %d", r.StudentNumber, prev, r.ID)
			}
			seatOwner[r.StudentNumber] = r.ID
			jobs, _, _ := db.FindJobs(ctx, wod.JobFilter{RegistrationID: &r.ID})
			switch r.State {
			case wod.StateReady:
				ready++
				if !warmSeats[r.StudentNumber] || len(r.PasswordEnc) == 0 || len(jobs) != 1 || jobs[0].Kind != wod.JobExpire {
					t.Fatalf("warm booking: seat %d (warm %v), password %q, jobs %+v", r.StudentNumber,
						warmSeats[r.StudentNumber], r.PasswordEnc, jobs)
				}
			case wod.StatePending:
				if warmSeats[r.StudentNumber] || len(jobs) != 1 || jobs[0].Kind != wod.JobCreate {
					t.Fatalf("cold booking: seat %d, jobs %+v", r.StudentNumber, jobs)
				}
			default:
				t.Fatalf("booking %d is %s", i, r.State)
			}
		}
		if ready != 4 {
			t.Fatalf("%d bookings took a warm seat, want 4", ready)
		}
		// Two free seats left, two of capacity: the pool keeps one seat
		// free for a cold booking, so it warms one.
		p, n, err := db.KeepWarm(ctx, w.ID, w.LocationID)
		if err != nil || n != 1 || p.Warming != 1 || p.Target != 1 {
			t.Fatalf("keep warm with 2 free: %+v %d %v", p, n, err)
		}
		// The free seat goes cold; then the warming seat whose job has not
		// started is taken cold too (its job cancelled) rather than "full".
		for i, email := range []string{"q1@example.com", "q2@example.com"} {
			r, err := db.CreateRegistration(ctx, warmBooking(w.Slug, email))
			if err != nil || r.State != wod.StatePending {
				t.Fatalf("booking %d after the pool: %+v %v", i, r, err)
			}
		}
		warmJob := wod.JobWarm
		cancelled := wod.JobCancelled
		if _, n, _ := db.FindJobs(ctx, wod.JobFilter{Kind: &warmJob, State: &cancelled}); n != 1 {
			t.Fatalf("%d cancelled warm jobs, want 1", n)
		}
		if _, err := db.CreateRegistration(ctx, warmBooking(w.Slug, "full@example.com")); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("booking when full: %v", err)
		}
		if held, _ := db.HeldSeats(ctx, w.LocationID); len(held) != 10 {
			t.Fatalf("held seats: %v", held)
		}
	})
}

// TestWarmPoolKeeper: the pool shrinks, rebuilds stale seats, and gives
// back the seat of a warm job that failed for good.
func TestWarmPoolKeeper(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 10, 10)
		three := wod.WarmPool(3)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &three}); err != nil {
			t.Fatal(err)
		}
		warmUp(t, db, w)
		// Held seats include warm ones: the agent's guard spares them.
		if held, _ := db.HeldSeats(ctx, w.LocationID); len(held) != 3 {
			t.Fatalf("held seats with 3 warm: %v", held)
		}

		// A re-import with new notebooks: every warm seat is rebuilt.
		in := *w
		in.ContentVersion, in.Overrides = "v2", nil
		if _, err := db.ImportWorkshops(ctx, []*wod.Workshop{&in}); err != nil {
			t.Fatal(err)
		}
		if n := warmUp(t, db, w); n != 3 {
			t.Fatalf("rebuilt %d stale seats, want 3", n)
		}
		// The import kept the operator's warm setting.
		if got, _ := db.FindWorkshop(ctx, w.Slug); got.Warm != 3 || got.ContentVersion != "v2" {
			t.Fatalf("after import: warm %v, version %q", got.Warm, got.ContentVersion)
		}

		// A day later, the unused seats are made again.
		clock.Advance(wod.WarmRecycleAfter + time.Minute)
		if n := warmUp(t, db, w); n != 3 {
			t.Fatalf("recycled %d day-old seats, want 3", n)
		}

		// Shrinking gives seats back.
		one := wod.WarmPool(1)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &one}); err != nil {
			t.Fatal(err)
		}
		if p, n, err := db.KeepWarm(ctx, w.ID, w.LocationID); err != nil || n != 0 || p.Warm != 1 || p.Free != 9 {
			t.Fatalf("shrink: %+v %d %v", p, n, err)
		}

		// A warm job that fails for good leaves its seat warming until the
		// keeper gives it back.
		two := wod.WarmPool(2)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &two}); err != nil {
			t.Fatal(err)
		}
		if _, n, err := db.KeepWarm(ctx, w.ID, w.LocationID); err != nil || n != 1 {
			t.Fatalf("grow: %d %v", n, err)
		}
		jobs, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobWarm}, &w.LocationID, "agent", time.Minute, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		if err := db.FailJob(ctx, jobs[0].ID, jobs[0].Attempts, "hub down", "", nil); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ReclaimWarming(ctx); err != nil || n != 1 {
			t.Fatalf("reclaim: %d %v", n, err)
		}
		if held, _ := db.HeldSeats(ctx, w.LocationID); len(held) != 1 {
			t.Fatalf("held seats after the reclaim: %v", held)
		}

		// Deactivated: the pool empties.
		no := false
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Active: &no}); err != nil {
			t.Fatal(err)
		}
		if p, _, err := db.KeepWarm(ctx, w.ID, w.LocationID); err != nil || p.Warm != 0 || p.Warming != 0 {
			t.Fatalf("inactive: %+v %v", p, err)
		}
	})
}

// TestWarmPoolRangeChange: a warm seat the workshop can no longer book
// (its range shrank) is given back and another warmed in the range.
func TestWarmPoolRangeChange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 10, 10)
		one, five := wod.WarmPool(1), 5
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &one}); err != nil {
			t.Fatal(err)
		}
		warmUp(t, db, w)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{SeatMax: &five}); err != nil {
			t.Fatal(err)
		}
		if pools, err := db.WarmPools(ctx); err != nil || len(pools) != 1 || pools[0].Stale != 1 {
			t.Fatalf("pools after the range shrank: %+v %v", pools, err)
		}
		warmUp(t, db, w)
		seats, _, _ := db.FindSeats(ctx, wod.SeatFilter{})
		for _, s := range seats {
			if want := map[int]wod.SeatState{5: wod.SeatWarm}[s.Number]; want == "" && s.State != wod.SeatFree ||
				want != "" && s.State != want {
				t.Fatalf("seat %d is %s", s.Number, s.State)
			}
		}
	})
}

// A location an original backend serves (kind legacy) keeps no warm seats:
// its agent is not wod's and would fail every warm job.
func TestWarmPoolNoneAtALegacyLocation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 10, 10)
		three := wod.WarmPool(3)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &three}); err != nil {
			t.Fatal(err)
		}
		legacy, mail := wod.LocationLegacy, "wod@backend.example.com"
		if _, err := db.UpdateLocation(ctx, w.Location, wod.LocationUpdate{Kind: &legacy, BackendEmail: &mail}); err != nil {
			t.Fatal(err)
		}
		p, n, err := db.KeepWarm(ctx, w.ID, w.LocationID)
		if err != nil || n != 0 || p.Target != 0 || p.Warming != 0 {
			t.Fatalf("keep warm at a legacy location: %+v, %d scheduled, %v", p, n, err)
		}
	})
}
