package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestListenAgentJobs: a server replica hears of the agent jobs another
// replica schedules at a location, and only of those due now; on SQLite
// (one server) listening ends at once.
func TestListenAgentJobs(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.DSN(t, d)
			clock := storetest.NewClock(storetest.T0)
			open := func() *store.DB {
				db, err := store.Open(ctx, dsn, clock)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			writer := open()
			if _, err := writer.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			listener := open()
			l, _ := fixture(t, writer, 10, 1, 10, 10)
			heard := make(chan int64, 100)
			lctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- listener.ListenAgentJobs(lctx, func(id int64) { heard <- id }) }()
			if d == store.SQLite {
				if err := <-done; err != nil {
					t.Fatalf("ListenAgentJobs on SQLite: %v, want nil at once", err)
				}
				stop()
				return
			}
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("ListenAgentJobs after its context ended: %v, want nil", err)
				}
			}()
			// Once listening, it says every location may have work.
			expectHeard(t, heard, 0, "every location, once listening")
			deadline := time.After(30 * time.Second)
		wait:
			for {
				if err := writer.ScheduleJobs(ctx, []*wod.Job{{Kind: wod.JobReset, LocationID: &l.ID}}); err != nil {
					t.Fatal(err)
				}
				select {
				case id := <-heard:
					if id != l.ID {
						t.Fatalf("heard of location %d, want %d", id, l.ID)
					}
					break wait
				case <-time.After(200 * time.Millisecond):
				case <-deadline:
					t.Fatal("the listener never heard of the jobs scheduled at its location")
				}
			}
			for len(heard) > 0 {
				<-heard
			}
			// A job due later is the timers' business, not a wake-up: after
			// it, the job due now at the other location is what is heard
			// (notifications come in commit order).
			other := &wod.Location{Name: "other", HubURL: "http://127.0.0.2:8000", Students: 10}
			if err := writer.CreateLocation(ctx, other); err != nil {
				t.Fatal(err)
			}
			later := &wod.Job{Kind: wod.JobReset, LocationID: &l.ID, RunAt: clock.Now().Add(time.Hour)}
			timer := &wod.Job{Kind: wod.JobWatchdog}
			if err := writer.ScheduleJobs(ctx, []*wod.Job{later, timer}); err != nil {
				t.Fatal(err)
			}
			if err := writer.ScheduleJobs(ctx, []*wod.Job{{Kind: wod.JobCleanup, LocationID: &other.ID}}); err != nil {
				t.Fatal(err)
			}
			expectHeard(t, heard, other.ID, "the job due now at the other location (not the one due later)")
			// A registration's job (the cleanup an end schedules) is heard
			// at the registration's location.
			r, err := register(writer, "WKSHP-API101", "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := writer.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{r.State},
				To: r.State, Jobs: []*wod.Job{{Kind: wod.JobCleanup}}}); err != nil {
				t.Fatal(err)
			}
			expectHeard(t, heard, l.ID, "the registration's cleanup, at its location")
			// A failed job an operator retries is due again at once.
			failed := storetest.FailedJob(t, writer, wod.JobReset, other.ID, "hub down")
			expectHeard(t, heard, other.ID, "the reset scheduled")
			if _, err := writer.RetryJob(ctx, failed.ID); err != nil {
				t.Fatal(err)
			}
			expectHeard(t, heard, other.ID, "the failed reset retried")
		})
	}
}

// expectHeard waits for the listener's next word, which must name the
// location want (what says what it is for).
func expectHeard(t *testing.T, heard <-chan int64, want int64, what string) {
	t.Helper()
	select {
	case id := <-heard:
		if id != want {
			t.Fatalf("heard of location %d, want %d: %s", id, want, what)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the listener never heard of %s", what)
	}
}
