package store_test

import (
	"context"
	"maps"
	"reflect"
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
			got, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobPurge}, &l.ID, "test", time.Minute, 10)
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
		got, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobReset}, &l.ID, "test", time.Minute, 1)
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

// TestClaimJobsSaysWhetherMoreAreDue: a claim takes due jobs in their
// order, queued ones and those whose lease ran out alike, leaves those of
// the future, and says whether others were due beside what it took (an
// agent then wakes another worker, and on PostgreSQL only then).
func TestClaimJobsSaysWhetherMoreAreDue(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, _ := fixture(t, db, 10, 1, 10, 10)
		now := clock.Now()
		var jobs []*wod.Job
		for _, at := range []time.Duration{-2 * time.Minute, -time.Minute, time.Hour} {
			jobs = append(jobs, &wod.Job{Kind: wod.JobReset, LocationID: &l.ID, RunAt: now.Add(at), MaxAttempts: 3})
		}
		if err := db.ScheduleJobs(ctx, jobs); err != nil {
			t.Fatal(err)
		}
		claim := func(limit int) ([]*wod.Job, bool) {
			t.Helper()
			got, more, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobReset}, &l.ID, "test", time.Minute, limit)
			if err != nil {
				t.Fatal(err)
			}
			return got, more
		}
		if got, more := claim(1); len(got) != 1 || got[0].ID != jobs[0].ID || !more {
			t.Fatalf("first claim: %+v more=%v, want job %d and more", got, more, jobs[0].ID)
		}
		// SQLite answers RETURNING after the update: a full claim there
		// says there may be more.
		exact := db.Dialect() == store.Postgres
		if got, more := claim(1); len(got) != 1 || got[0].ID != jobs[1].ID || (exact && more) {
			t.Fatalf("second claim: %+v more=%v, want job %d and no more", got, more, jobs[1].ID)
		}
		if got, more := claim(5); len(got) != 0 || more {
			t.Fatalf("nothing is due: %+v more=%v", got, more)
		}
		// Both leases run out: the jobs are due again, with the queued one
		// that fell due meanwhile, oldest first.
		clock.Advance(time.Hour + time.Minute)
		got, more := claim(2)
		if len(got) != 2 || got[0].ID != jobs[0].ID || got[1].ID != jobs[1].ID || got[0].Attempts != 2 || !more {
			t.Fatalf("lapsed leases: %+v more=%v", got, more)
		}
		if got, more := claim(2); len(got) != 1 || got[0].ID != jobs[2].ID || more {
			t.Fatalf("the last: %+v more=%v", got, more)
		}
	})
}

// TestNextJobAt: the next due time of a location's jobs of some kinds is
// the earliest of a queued job's time and a running job's lease end.
func TestNextJobAt(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, _ := fixture(t, db, 10, 1, 10, 10)
		kinds := []wod.JobKind{wod.JobReset, wod.JobPurge}
		if _, ok, err := db.NextJobAt(ctx, kinds, &l.ID); err != nil || ok {
			t.Fatalf("no job yet: %v %v", ok, err)
		}
		now := clock.Now()
		later := &wod.Job{Kind: wod.JobPurge, LocationID: &l.ID, RunAt: now.Add(time.Hour), MaxAttempts: 3}
		due := &wod.Job{Kind: wod.JobReset, LocationID: &l.ID, RunAt: now, MaxAttempts: 3}
		if err := db.ScheduleJobs(ctx, []*wod.Job{later, due}); err != nil {
			t.Fatal(err)
		}
		if next, ok, err := db.NextJobAt(ctx, kinds, &l.ID); err != nil || !ok || !next.Equal(now) {
			t.Fatalf("a queued job due now: %v %v %v", next, ok, err)
		}
		if _, _, err := db.ClaimJobs(ctx, kinds, &l.ID, "test", 10*time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		if next, ok, err := db.NextJobAt(ctx, kinds, &l.ID); err != nil || !ok || !next.Equal(now.Add(10*time.Minute)) {
			t.Fatalf("the running job's lease ends first: %v %v %v", next, ok, err)
		}
		if next, ok, err := db.NextJobAt(ctx, []wod.JobKind{wod.JobPurge}, &l.ID); err != nil || !ok || !next.Equal(later.RunAt) {
			t.Fatalf("of the purges only: %v %v %v", next, ok, err)
		}
	})
}

// TestStepCancelsAndCompletesJobs: a step that cancels queued jobs of its
// registration and completes the job reported (the ready step of a create)
// does both, and nothing else; with the job's lease lost it is refused
// and changes nothing.
func TestStepCancelsAndCompletesJobs(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 10, 1, 5, 5)
		book := func(email string) (*wod.Registration, *wod.Job) {
			t.Helper()
			r, err := db.CreateRegistration(ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann", Email: email},
				Jobs: []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()},
					{Kind: wod.JobWatchdog, RunAt: clock.Now().Add(time.Hour)},
					{Kind: wod.JobRemind, RunAt: clock.Now().Add(time.Hour)}}})
			if err != nil {
				t.Fatal(err)
			}
			js, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobCreate}, &l.ID, "test", time.Minute, 1)
			if err != nil || len(js) != 1 || *js[0].RegistrationID != r.ID {
				t.Fatalf("claim: %v %v", js, err)
			}
			return r, js[0]
		}
		states := func(r *wod.Registration) map[wod.JobKind]wod.JobState {
			t.Helper()
			js, _, err := db.FindJobs(ctx, wod.JobFilter{RegistrationID: &r.ID, Page: wod.Page{Limit: 10}})
			if err != nil {
				t.Fatal(err)
			}
			m := map[wod.JobKind]wod.JobState{}
			for _, j := range js {
				m[j.Kind] = j.State
			}
			return m
		}
		ready := func(r *wod.Registration, j *wod.Job, attempt int) error {
			ends := clock.Now().Add(time.Hour)
			return db.Apply(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
				To: wod.StateReady, ReadyAt: ptr(clock.Now()), EndsAt: &ends, PasswordEnc: []byte("sealed"),
				Cancel: []wod.JobKind{wod.JobWatchdog},
				Done:   &wod.JobCompletion{JobID: j.ID, Attempt: attempt, Result: []byte(`{"ok":true}`), Output: "made"}})
		}

		r, j := book("ann@example.com")
		if err := ready(r, j, j.Attempts); err != nil {
			t.Fatal(err)
		}
		want := map[wod.JobKind]wod.JobState{wod.JobCreate: wod.JobDone, wod.JobWatchdog: wod.JobCancelled, wod.JobRemind: wod.JobQueued}
		if got := states(r); !maps.Equal(got, want) {
			t.Fatalf("jobs after ready: %v, want %v", got, want)
		}
		done, err := db.FindJob(ctx, j.ID)
		if err != nil || done.Output != "made" || string(done.Result) != `{"ok":true}` || done.LeaseUntil != nil {
			t.Fatalf("the create job: %+v %v", done, err)
		}

		r, j = book("bob@example.com")
		if err := ready(r, j, j.Attempts+1); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("ready with a lost lease: %v", err)
		}
		want = map[wod.JobKind]wod.JobState{wod.JobCreate: wod.JobRunning, wod.JobWatchdog: wod.JobQueued, wod.JobRemind: wod.JobQueued}
		if got := states(r); !maps.Equal(got, want) {
			t.Fatalf("jobs after a refused ready: %v, want %v", got, want)
		}
		if got, _ := db.FindRegistration(ctx, r.ID); got.State != wod.StatePending {
			t.Fatalf("a refused ready left the registration %s", got.State)
		}
	})
}

// TestClaimAgentJob: an agent's claim returns the job leased with its
// registration and workshop as FindRegistrationWorkshop reads them, a job
// without a registration (a warm seat's) alone, nothing when none is due,
// and says whether more are due (SQLite: whether the claim was full).
func TestClaimAgentJob(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 10, 1, 5, 5)
		claim := func(kinds ...wod.JobKind) (*wod.Job, *wod.Registration, *wod.Workshop, bool) {
			t.Helper()
			j, r, w, more, err := db.ClaimAgentJob(ctx, kinds, l.ID, "agent", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return j, r, w, more
		}
		if j, r, w, more := claim(wod.JobCreate); j != nil || r != nil || w != nil || more {
			t.Fatalf("nothing due: %+v %+v %+v %v", j, r, w, more)
		}
		var booked []*wod.Registration
		for _, email := range []string{"ann@example.com", "bob@example.com"} {
			r, err := db.CreateRegistration(ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann", Email: email},
				Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()}}})
			if err != nil {
				t.Fatal(err)
			}
			booked = append(booked, r)
		}
		for i, r := range booked {
			j, gotR, gotW, more := claim(wod.JobCreate)
			if j == nil || j.Kind != wod.JobCreate || *j.RegistrationID != r.ID || j.State != wod.JobRunning ||
				j.Attempts != 1 || j.LeasedBy != "agent" || more != (i == 0 || db.Dialect() == store.SQLite) {
				t.Fatalf("claim %d: %+v more %v", i, j, more)
			}
			wantR, wantW, err := db.FindRegistrationWorkshop(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotR, wantR) || !reflect.DeepEqual(gotW, wantW) {
				t.Fatalf("claim %d read\n%+v\n%+v\nwant\n%+v\n%+v", i, gotR, gotW, wantR, wantW)
			}
		}
		one := wod.WarmPool(1)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &one}); err != nil {
			t.Fatal(err)
		}
		if _, n, err := db.KeepWarm(ctx, w.ID, l.ID); err != nil || n != 1 {
			t.Fatalf("keep warm: %d %v", n, err)
		}
		if j, r, w, _ := claim(wod.JobCreate, wod.JobWarm); j == nil || j.Kind != wod.JobWarm || r != nil || w != nil {
			t.Fatalf("a warm job: %+v %+v %+v", j, r, w)
		}
	})
}
