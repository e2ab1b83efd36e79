package engine_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestWarmBookingTimes measures registration → credentials from a warm
// seat (docs/benchmarks.md): the time of Register, which answers with the
// registration ready (its credentials readable at once), for 200 bookings
// one after another and 200 by 20 at once, on each database. It prints
// numbers and asserts only that every booking took a warm seat; it runs
// only with WOD_BENCH=1.
func TestWarmBookingTimes(t *testing.T) {
	if os.Getenv("WOD_BENCH") == "" {
		t.Skip("a benchmark: WOD_BENCH=1 runs it")
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		const n = 200
		w := newWorld(t, db, clock)
		for _, mode := range []struct {
			name     string
			parallel int
		}{{"one after another", 1}, {"20 at once", 20}} {
			slug := fmt.Sprintf("WKSHP-Bench%d", mode.parallel)
			if mode.parallel == 1 {
				w.growLocation(2*n + 50)
			}
			first := 20 + (mode.parallel/20)*(n+5)
			ws := &wod.Workshop{Slug: slug, Title: "Bench", Duration: wod.Duration(2 * time.Hour), Capacity: n,
				SeatMin: first, SeatMax: first + n, LocationID: w.loc.ID, Active: true, SessionType: wod.SessionWorkshop,
				Appliance: wod.ApplianceNone, Warm: n}
			if err := db.CreateWorkshop(w.ctx, ws); err != nil {
				t.Fatal(err)
			}
			if _, scheduled, err := db.KeepWarm(w.ctx, ws.ID, w.loc.ID); err != nil || scheduled != n {
				t.Fatalf("keep warm: %d %v", scheduled, err)
			}
			for {
				j, err := w.eng.ClaimJob(w.ctx, w.loc.ID, "agent", 0)
				if err != nil {
					t.Fatal(err)
				}
				if j == nil {
					break
				}
				w.report(j, wod.AgentResult{OK: true, Password: "pw-Bench-123"})
			}
			times := make([]time.Duration, n)
			var wg sync.WaitGroup
			next := make(chan int)
			for range mode.parallel {
				wg.Go(func() {
					for i := range next {
						start := time.Now()
						r, err := w.eng.Register(w.ctx, wod.RegistrationRequest{Workshop: slug, Name: "Ann",
							Email: fmt.Sprintf("p%d-%d@example.com", mode.parallel, i)})
						times[i] = time.Since(start)
						if err != nil || r.State != wod.StateReady {
							t.Errorf("booking %d: %v %v", i, r, err)
						}
					}
				})
			}
			t0 := time.Now()
			for i := range n {
				next <- i
			}
			close(next)
			wg.Wait()
			total := time.Since(t0)
			slices.Sort(times)
			fmt.Printf("warm booking, %s, %s: p50 %v p99 %v max %v; %d in %v (%.0f/s)\n", db.Dialect(), mode.name,
				times[n/2].Round(10*time.Microsecond), times[n*99/100].Round(10*time.Microsecond),
				times[n-1].Round(10*time.Microsecond), n, total.Round(time.Millisecond), float64(n)/total.Seconds())
		}
	})
}

func (w *world) growLocation(students int) {
	w.t.Helper()
	if _, err := w.db.UpdateLocation(w.ctx, w.loc.Name, wod.LocationUpdate{Students: &students}); err != nil {
		w.t.Fatal(err)
	}
}
