package operator_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestJobActions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		loc := mustLocation(t, db, "hub1", 10).ID
		a := storetest.FailedJob(t, db, wod.JobReset, loc, "hub down")
		b := storetest.FailedJob(t, db, wod.JobCleanup, loc, "hub down")
		c := storetest.FailedJob(t, db, wod.JobReset, loc, "hub down")

		j, err := ops.RetryJob(ctx, boss, a.ID)
		if err != nil || j.State != wod.JobQueued || j.Attempts != 0 {
			t.Fatalf("retry: %+v %v", j, err)
		}
		if _, err := ops.RetryJob(ctx, boss, a.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("retry a queued job: %v", err)
		}
		if n, err := ops.DismissJob(ctx, boss, b.ID); err != nil || n != 1 {
			t.Fatalf("dismiss: %d %v", n, err)
		}
		if n, err := ops.DismissJob(ctx, boss, b.ID); err != nil || n != 0 {
			t.Fatalf("dismiss twice: %d %v", n, err)
		}
		if _, err := ops.DismissJob(ctx, boss, a.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("dismiss a queued job: %v", err)
		}
		// Job 0 is no job, not every job.
		if _, err := ops.DismissJob(ctx, boss, 0); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("dismiss job 0: %v", err)
		}
		if n, err := ops.DismissFailedJobs(ctx, boss); err != nil || n != 1 {
			t.Fatalf("dismiss every failed job: %d %v", n, err)
		}
		if n, err := ops.DismissFailedJobs(ctx, boss); err != nil || n != 0 {
			t.Fatalf("dismiss every failed job again: %d %v", n, err)
		}

		retried := auditOf(t, db, "job.retried")
		if len(retried) != 1 || retried[0].Actor != "boss" || retried[0].Subject != fmt.Sprintf("job:%d", a.ID) ||
			retried[0].Detail != string(wod.JobReset) {
			t.Fatalf("audit of the retry: %+v", retried)
		}
		var dismissed []string
		for _, e := range auditOf(t, db, "job.dismissed") {
			dismissed = append(dismissed, e.Subject+" "+e.Detail)
		}
		want := []string{fmt.Sprintf("job:%d ", b.ID), "jobs 1 failed jobs"}
		if !slices.Equal(dismissed, want) {
			t.Fatalf("audit of the dismissals: %q, want %q (job %d)", dismissed, want, c.ID)
		}
	})
}
