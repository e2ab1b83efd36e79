package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
)

// FailedJob schedules a job of the kind at the location, due now, then
// claims and fails it for good with msg, as an agent that gave up leaves it.
func FailedJob(t testing.TB, db *store.DB, kind wod.JobKind, locationID int64, msg string) *wod.Job {
	t.Helper()
	ctx := context.Background()
	j := &wod.Job{Kind: kind, LocationID: &locationID, MaxAttempts: 1}
	if err := db.ScheduleJobs(ctx, []*wod.Job{j}); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.ClaimJobs(ctx, []wod.JobKind{kind}, &locationID, "test", time.Minute, 1)
	if err != nil || len(got) != 1 || got[0].ID != j.ID {
		t.Fatalf("claim job %d: %v %v", j.ID, got, err)
	}
	if err := db.FailJob(ctx, j.ID, got[0].Attempts, msg, "", nil); err != nil {
		t.Fatal(err)
	}
	return j
}
