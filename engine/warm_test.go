package engine_test

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

type warmCounts struct {
	engine.NopObserver
	hits, misses int
	pools        []*wod.WarmPoolState
}

func (c *warmCounts) WarmBooking(_, outcome string) {
	switch outcome {
	case "hit":
		c.hits++
	case "miss":
		c.misses++
	}
}
func (c *warmCounts) WarmPools(p []*wod.WarmPoolState) { c.pools = p }

// TestWarmPool: the keeper fills the pool, a registration takes the warm
// seat and is ready in its booking (credentials at once, no create), the
// pool refills, and a warm job whose agent died is done again after a
// restart of server and agent.
func TestWarmPool(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		obs := &warmCounts{}
		w.eng.Observer = obs
		one := wod.WarmPool(1)
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Warm: &one}); err != nil {
			t.Fatal(err)
		}
		w.tick()
		job := w.claim(wod.JobWarm)
		// The highest seat of the range, out of the cold bookings' way, and
		// nothing of a participant.
		if job.Username != "student3" || job.Workshop != "WKSHP-A" || job.RegistrationID != 0 || job.Participant != "" ||
			job.SessionType != wod.SessionWorkshop || job.SeatMin != 1 {
			t.Fatalf("warm job: %+v", job)
		}
		w.noJob()
		if warm, err := w.eng.WarmSeats(w.ctx, w.loc.ID); err != nil || len(warm) != 0 {
			t.Fatalf("warm seats while the seat warms (its server is the job's to start): %v %v", warm, err)
		}
		w.report(job, wod.AgentResult{OK: true, Password: "pw-Warm-123"})
		held, err := w.eng.HeldSeats(w.ctx, w.loc.ID)
		if err != nil || !slices.Equal(held, []int{3}) {
			t.Fatalf("held seats (the guard spares them): %v %v", held, err)
		}
		if warm, err := w.eng.WarmSeats(w.ctx, w.loc.ID); err != nil || !slices.Equal(warm, []int{3}) {
			t.Fatalf("warm seats (the agent keeps their servers running): %v %v", warm, err)
		}
		if len(obs.pools) != 1 || obs.pools[0].Warm != 0 {
			t.Fatalf("pools seen before the report: %+v", obs.pools)
		}

		r := w.register("WKSHP-A", "ann@example.com")
		if r.State != wod.StateReady || r.Username != "student3" || r.ReadyAt == nil || !r.ReadyAt.Equal(clock.Now()) ||
			!r.EndsAt.Equal(clock.Now().Add(2*time.Hour)) {
			t.Fatalf("warm registration: %+v", r)
		}
		if warm, err := w.eng.WarmSeats(w.ctx, w.loc.ID); err != nil || len(warm) != 0 {
			t.Fatalf("warm seats once the seat is taken: %v %v", warm, err)
		}
		if pw, running, err := engine.StudentPassword(w.keys, r); err != nil || !running || pw != "pw-Warm-123" {
			t.Fatalf("password: %q %v %v", pw, running, err)
		}
		w.tick()
		if len(w.out.sent) != 1 || !strings.Contains(w.out.sent[0].Text, "pw-Warm-123") ||
			!strings.Contains(w.out.sent[0].Text, "student3") {
			t.Fatalf("mails after a warm booking: %v", w.out.kinds())
		}
		if obs.hits != 1 || obs.misses != 0 {
			t.Fatalf("hits %d misses %d", obs.hits, obs.misses)
		}
		// The pool refills (tick ran the keeper) and no create was queued.
		refill := w.claim(wod.JobWarm)
		if refill.Username != "student2" {
			t.Fatalf("refill: %+v", refill)
		}
		w.noJob()

		// The agent dies mid-warm and the server restarts: the heartbeat
		// of the restarted agent releases the job, the new engine gives it
		// out again.
		clock.Advance(30 * time.Second) // past the orphan grace, within the lease
		w.eng = restarted(w, obs)
		if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Running: []int64{}}); err != nil {
			t.Fatal(err)
		}
		again := w.claim(wod.JobWarm)
		if again.ID != refill.ID || again.Attempt != 2 || again.Username != "student2" {
			t.Fatalf("warm job after the restart: %+v (was %+v)", again, refill)
		}
		w.report(again, wod.AgentResult{OK: true, Password: "pw-Warm-456"})

		// A second registration takes it; the third finds no warm seat and
		// the pool keeps the last seat free: it is created cold.
		r2 := w.register("WKSHP-A", "bob@example.com")
		if r2.State != wod.StateReady || r2.Username != "student2" {
			t.Fatalf("second warm registration: %+v", r2)
		}
		w.tick()
		w.noJob()
		r3 := w.register("WKSHP-A", "cat@example.com")
		if r3.State != wod.StatePending || r3.Username != "student1" {
			t.Fatalf("cold registration: %+v", r3)
		}
		w.claim(wod.JobCreate)
		if obs.hits != 2 || obs.misses != 1 {
			t.Fatalf("hits %d misses %d", obs.hits, obs.misses)
		}
	})
}

// TestWarmPoolFailedJob: a warm job that keeps failing is given up, and
// its seat goes back to the free seats, not leaked.
func TestWarmPoolFailedJob(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		one := wod.WarmPool(1)
		if _, err := db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Warm: &one}); err != nil {
			t.Fatal(err)
		}
		w.tick()
		for range wod.DefaultMaxAttempts {
			j := w.claim(wod.JobWarm)
			w.report(j, wod.AgentResult{OK: false, Error: "hub down"})
			clock.Advance(time.Hour)
		}
		// This tick gives the seat back and warms a seat again.
		w.tick()
		if held, _ := w.eng.HeldSeats(w.ctx, w.loc.ID); len(held) != 1 {
			t.Fatalf("held after the failure: %v", held)
		}
		j := w.claim(wod.JobWarm)
		if j.Attempt != 1 {
			t.Fatalf("a new warm job: %+v", j)
		}
	})
}

func restarted(w *world, obs engine.Observer) *engine.Engine {
	old := w.eng
	return &engine.Engine{Store: w.db, Policy: old.Policy, Composer: old.Composer, Keys: w.keys, Clock: w.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: old.PublicURL,
		ProvisionTimeout: old.ProvisionTimeout, RemindBefore: old.RemindBefore, AgentLease: old.AgentLease,
		Worker: "test", Observer: obs}
}

// TestWarmPoolBurst: more warm bookings at once than the store has
// connections (PostgreSQL's pool holds 20) all finish, each ready on a seat
// of its own: the booking's transaction reads nothing else while it holds
// its connection.
func TestWarmPoolBurst(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		const n = 25
		w := newWorld(t, db, clock)
		w.growLocation(40)
		ws := &wod.Workshop{Slug: "WKSHP-Burst", Title: "Burst", Duration: wod.Duration(2 * time.Hour), Capacity: n,
			SeatMin: 11, SeatMax: 11 + n, LocationID: w.loc.ID, Active: true, SessionType: wod.SessionWorkshop,
			Appliance: wod.ApplianceNone, Warm: n}
		if err := db.CreateWorkshop(w.ctx, ws); err != nil {
			t.Fatal(err)
		}
		w.tick()
		for range n {
			w.report(w.claim(wod.JobWarm), wod.AgentResult{OK: true, Password: "pw-Burst-123"})
		}
		seats := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: ws.Slug, Name: "Ann",
					Email: fmt.Sprintf("burst%d@example.com", i)})
				if err != nil || r.State != wod.StateReady {
					t.Errorf("booking %d: %+v %v", i, r, err)
					return
				}
				seats <- r.StudentNumber
			})
		}
		wg.Wait()
		close(seats)
		seen := map[int]bool{}
		for s := range seats {
			if seen[s] {
				t.Fatalf("seat %d given twice", s)
			}
			seen[s] = true
		}
		if len(seen) != n {
			t.Fatalf("%d warm bookings, want %d", len(seen), n)
		}
	})
}
