package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestDismissJobs: operators clear the failures they dealt with from the
// dashboard; the job keeps its state and error, and a failure that comes
// back (the job queued again) shows again.
func TestDismissJobs(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, a := fixture(t, db, 10, 1, 10, 10)
		first := storetest.FailedJob(t, db, wod.JobReset, l.ID, "hub down")
		second := storetest.FailedJob(t, db, wod.JobReset, l.ID, "hub down")
		storetest.FailedJob(t, db, wod.JobPurge, l.ID, "hub down")
		waiting := &wod.Job{Kind: wod.JobReset, LocationID: &l.ID, RunAt: clock.Now().Add(time.Hour)}
		if err := db.ScheduleJobs(ctx, []*wod.Job{waiting}); err != nil {
			t.Fatal(err)
		}
		failing := func() int {
			t.Helper()
			d, err := db.Dashboard(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return d.FailingJobsTotal
		}
		if n := failing(); n != 3 {
			t.Fatalf("failing before: %d", n)
		}

		if n, err := db.DismissJobs(ctx, first.ID); err != nil || n != 1 || failing() != 2 {
			t.Fatalf("dismiss one: %d %v, %d failing", n, err, failing())
		}
		if n, err := db.DismissJobs(ctx, first.ID); err != nil || n != 0 {
			t.Fatalf("dismiss it again: %d %v", n, err)
		}
		if _, err := db.DismissJobs(ctx, waiting.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("dismiss a job that did not fail: %v", err)
		}
		if _, err := db.DismissJobs(ctx, 999999); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("dismiss no job: %v", err)
		}
		js, _, err := db.FindJobs(ctx, wod.JobFilter{Page: wod.Page{Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range js {
			if j.ID == first.ID && (j.DismissedAt == nil || j.State != wod.JobFailed || j.LastError != "hub down") {
				t.Fatalf("dismissed job: %+v", j)
			}
			if j.ID == second.ID && j.DismissedAt != nil {
				t.Fatalf("another job was dismissed: %+v", j)
			}
		}
		if n, err := db.DismissJobs(ctx, 0); err != nil || n != 2 || failing() != 0 {
			t.Fatalf("dismiss all: %d %v, %d failing", n, err, failing())
		}

		// A registration's job queued again is a new try: its failure shows.
		r := mustRegister(t, db, a.Slug, "ann@example.com")
		purge := func() {
			t.Helper()
			if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
				To: wod.StatePending, Jobs: []*wod.Job{{Kind: wod.JobPurge, RunAt: clock.Now(), MaxAttempts: 1}}}); err != nil {
				t.Fatal(err)
			}
			got, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobPurge}, &l.ID, "test", time.Minute, 10)
			if err != nil || len(got) != 1 {
				t.Fatalf("claim purge: %v %v", got, err)
			}
			if err := db.FailJob(ctx, got[0].ID, got[0].Attempts, "still down", "", nil); err != nil {
				t.Fatal(err)
			}
		}
		purge()
		if n, err := db.DismissJobs(ctx, 0); err != nil || n != 1 {
			t.Fatalf("dismiss the purge: %d %v", n, err)
		}
		purge()
		if n := failing(); n != 1 {
			t.Fatalf("the purge failed again, yet %d failing", n)
		}
	})
}

// TestRetryJob: a failed job goes back to the queue, due now, with fresh
// attempts; other states are refused.
func TestRetryJob(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, _ := fixture(t, db, 10, 1, 10, 10)
		failed := storetest.FailedJob(t, db, wod.JobReset, l.ID, "hub down")
		if _, err := db.DismissJobs(ctx, failed.ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		j, err := db.RetryJob(ctx, failed.ID)
		if err != nil || j.State != wod.JobQueued || j.Attempts != 0 || !j.RunAt.Equal(clock.Now()) || j.DismissedAt != nil {
			t.Fatalf("retried: %+v %v", j, err)
		}
		got, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobReset}, &l.ID, "test", time.Minute, 1)
		if err != nil || len(got) != 1 || got[0].ID != failed.ID || got[0].Attempts != 1 {
			t.Fatalf("claim the retried job: %+v %v", got, err)
		}
		if _, err := db.RetryJob(ctx, failed.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("retry a running job: %v", err)
		}
		if _, err := db.RetryJob(ctx, 424242); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("retry no job: %v", err)
		}
	})
}
