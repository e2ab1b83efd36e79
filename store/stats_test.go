package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// finish takes a pending registration to a final state, as the engine's
// steps would, with the seat freed or kept dirty.
func finish(t *testing.T, db *store.DB, r *wod.Registration, to wod.RegistrationState, completion *int, seat wod.SeatState) {
	t.Helper()
	_, err := db.Transition(context.Background(), &wod.Transition{RegistrationID: r.ID,
		From: []wod.RegistrationState{wod.StatePending}, To: to, Completion: completion, Seat: &seat})
	if err != nil {
		t.Fatalf("registration %d to %s: %v", r.ID, to, err)
	}
}

func mustRegister(t *testing.T, db *store.DB, workshop, email string) *wod.Registration {
	t.Helper()
	r, err := register(db, workshop, email)
	if err != nil {
		t.Fatalf("register %s for %s: %v", email, workshop, err)
	}
	return r
}

func TestWorkshopStats(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, a := fixture(t, db, 40, 1, 20, 20)
		for _, slug := range []string{"WKSHP-B", "WKSHP-Quiet"} {
			w := &wod.Workshop{Slug: slug, Title: slug + " title", Duration: wod.Duration(time.Hour), Capacity: 5,
				SeatMin: 21, SeatMax: 30, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone,
				SessionType: wod.SessionWorkshop}
			if err := db.CreateWorkshop(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		// Before the period: counted nowhere.
		old := mustRegister(t, db, "WKSHP-B", "old@example.com")
		finish(t, db, old, wod.StateDone, new(55), wod.SeatFree)
		clock.Advance(72 * time.Hour)
		since := clock.Now().Add(-time.Hour)

		for i, c := range []int{0, 15, 15, 100} {
			finish(t, db, mustRegister(t, db, a.Slug, fmt.Sprintf("done%d@example.com", i)), wod.StateDone, new(c), wod.SeatFree)
		}
		// Finished without a measure: finished, outside the average.
		finish(t, db, mustRegister(t, db, a.Slug, "unmeasured@example.com"), wod.StateDone, nil, wod.SeatFree)
		finish(t, db, mustRegister(t, db, a.Slug, "failed@example.com"), wod.StateFailed, nil, wod.SeatFree)
		mustRegister(t, db, a.Slug, "live@example.com")
		finish(t, db, mustRegister(t, db, "WKSHP-B", "b@example.com"), wod.StateDone, new(95), wod.SeatDirty)

		stats, err := db.WorkshopStats(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 3 || stats[0].Slug != a.Slug || stats[1].Slug != "WKSHP-B" || stats[2].Slug != "WKSHP-Quiet" {
			t.Fatalf("workshops: %+v", stats)
		}
		got := stats[0]
		if got.Title != "API 101" || got.Registrations != 7 || got.Finished != 5 || got.Failed != 1 ||
			got.AverageCompletion == nil || *got.AverageCompletion != 32.5 ||
			got.Completion != [10]int{1, 2, 0, 0, 0, 0, 0, 0, 0, 1} {
			t.Fatalf("%s: %+v (average %v)", got.Slug, got, deref(got.AverageCompletion))
		}
		got = stats[1]
		if got.Registrations != 1 || got.Finished != 1 || got.Failed != 0 || deref(got.AverageCompletion) != 95 ||
			got.Completion != [10]int{9: 1} {
			t.Fatalf("%s: %+v", got.Slug, got)
		}
		got = stats[2]
		if got.Registrations != 0 || got.Finished != 0 || got.AverageCompletion != nil || got.Completion != [10]int{} {
			t.Fatalf("%s: %+v", got.Slug, got)
		}

		// The whole history brings the old one back.
		stats, _ = db.WorkshopStats(ctx, t0.Add(-time.Hour))
		if got := stats[1]; got.Registrations != 2 || got.Finished != 2 || deref(got.AverageCompletion) != 75 ||
			got.Completion != [10]int{5: 1, 9: 1} {
			t.Fatalf("WKSHP-B over all time: %+v", got)
		}
	})
}

func deref(f *float64) float64 {
	if f == nil {
		return -1
	}
	return *f
}

func TestRegistrationsPerDay(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		testRegistrationsPerDay(t, ctx, db, clock)
	})
}

// TestRegistrationsPerDayTimeZone runs the per-day count on PostgreSQL
// connections whose session time zone is far from UTC, where a day taken
// without AT TIME ZONE would shift.
func TestRegistrationsPerDayTimeZone(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"Pacific/Kiritimati", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			dsn := storetest.DSN(t, store.Postgres)
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("timezone", zone)
			u.RawQuery = q.Encode()
			ctx := context.Background()
			clock := storetest.NewClock(t0)
			db, err := store.Open(ctx, u.String(), clock)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			testRegistrationsPerDay(t, ctx, db, clock)
		})
	}
}

func testRegistrationsPerDay(t *testing.T, ctx context.Context, db *store.DB, clock *storetest.Clock) {
	t.Helper()
	l, a := fixture(t, db, 40, 1, 20, 20)
	b := &wod.Workshop{Slug: "WKSHP-B", Title: "B", Duration: wod.Duration(time.Hour), Capacity: 20,
		SeatMin: 21, SeatMax: 40, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone,
		SessionType: wod.SessionWorkshop}
	if err := db.CreateWorkshop(ctx, b); err != nil {
		t.Fatal(err)
	}
	n := 0
	reg := func(slug string) {
		n++
		finish(t, db, mustRegister(t, db, slug, fmt.Sprintf("p%d@example.com", n)), wod.StateDone, new(50), wod.SeatFree)
	}
	// 23 Nov 09:00: two; a second before and after midnight UTC: one each
	// side; nothing on the 25th; one on the 26th for B.
	reg(a.Slug)
	reg(a.Slug)
	clock.Advance(15*time.Hour - time.Second)
	reg(a.Slug)
	clock.Advance(2 * time.Second)
	reg(a.Slug)
	clock.Advance(48 * time.Hour)
	reg(b.Slug)

	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	days, err := db.RegistrationsPerDay(ctx, t0.Add(-time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []wod.DayCount{{Day: day(23), Registrations: 3}, {Day: day(24), Registrations: 1},
		{Day: day(25), Registrations: 0}, {Day: day(26), Registrations: 1}}
	if !slices.Equal(days, want) {
		t.Fatalf("per day:\n got %v\nwant %v", days, want)
	}
	slug := a.Slug
	days, err = db.RegistrationsPerDay(ctx, day(24), &slug)
	if err != nil {
		t.Fatal(err)
	}
	want = []wod.DayCount{{Day: day(24), Registrations: 1}, {Day: day(25)}, {Day: day(26)}}
	if !slices.Equal(days, want) {
		t.Fatalf("per day of %s:\n got %v\nwant %v", slug, days, want)
	}
	nope := "WKSHP-Nope"
	if _, err := db.RegistrationsPerDay(ctx, day(24), &nope); wod.ErrorCode(err) != wod.ENOTFOUND {
		t.Fatalf("unknown workshop: %v", err)
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, a := fixture(t, db, 40, 1, 10, 8)
		// B shares seats 9..10 with A: its free seats, not its capacity, bound it.
		b := &wod.Workshop{Slug: "WKSHP-B", Title: "B", Duration: wod.Duration(time.Hour), Capacity: 10,
			SeatMin: 9, SeatMax: 12, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone,
			SessionType: wod.SessionWorkshop}
		if err := db.CreateWorkshop(ctx, b); err != nil {
			t.Fatal(err)
		}
		far := &wod.Location{Name: "far", HubURL: "http://far.test", Students: 5}
		if err := db.CreateLocation(ctx, far); err != nil {
			t.Fatal(err)
		}

		// Two days ago: finished, so no longer on the dashboard.
		finish(t, db, mustRegister(t, db, a.Slug, "old@example.com"), wod.StateDone, new(10), wod.SeatFree)
		finish(t, db, mustRegister(t, db, a.Slug, "oldfail@example.com"), wod.StateFailed, nil, wod.SeatFree)
		clock.Advance(48 * time.Hour)
		for i := range 3 {
			mustRegister(t, db, a.Slug, fmt.Sprintf("live%d@example.com", i))
		}
		finish(t, db, mustRegister(t, db, a.Slug, "dirty@example.com"), wod.StateDone, new(80), wod.SeatDirty)
		finish(t, db, mustRegister(t, db, a.Slug, "failed@example.com"), wod.StateFailed, nil, wod.SeatFree)
		if _, err := db.Heartbeat(ctx, l.ID, "ok", nil, clock.Now()); err != nil {
			t.Fatal(err)
		}

		// Jobs: one being retried, one failed for good, one merely waiting.
		schedule := func(runAt time.Time) *wod.Job {
			j := &wod.Job{Kind: wod.JobReset, LocationID: &l.ID, RunAt: runAt}
			if err := db.ScheduleJobs(ctx, []*wod.Job{j}); err != nil {
				t.Fatal(err)
			}
			return j
		}
		claimAndFail := func(j *wod.Job, msg string, retry *time.Time) {
			got, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobReset}, &l.ID, "test", time.Minute, 10)
			if err != nil || len(got) != 1 || got[0].ID != j.ID {
				t.Fatalf("claim %d: %v %v", j.ID, got, err)
			}
			if err := db.FailJob(ctx, j.ID, got[0].Attempts, msg, "", retry); err != nil {
				t.Fatal(err)
			}
		}
		retried := schedule(clock.Now())
		later := clock.Now().Add(time.Hour)
		claimAndFail(retried, "hub unreachable", &later)
		clock.Advance(time.Second)
		failed := schedule(clock.Now())
		claimAndFail(failed, "disk full", nil)
		schedule(clock.Now().Add(2 * time.Hour))

		for i := range 25 {
			if err := db.RecordEvent(ctx, &wod.Event{Actor: "agent:local", Kind: "guard.kill",
				Subject: "location:local", Detail: fmt.Sprintf("kill %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "ops", Kind: "login.failed"}); err != nil {
			t.Fatal(err)
		}

		d, err := db.Dashboard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantStates := map[wod.RegistrationState]int{wod.StatePending: 3, wod.StateReady: 0, wod.StateExpiring: 0,
			wod.StateEnding: 0, wod.StateDone: 1, wod.StateFailed: 1, wod.StateWaiting: 0, wod.StateLeft: 0}
		if fmt.Sprint(d.ByState) != fmt.Sprint(wantStates) {
			t.Fatalf("by state: %v, want %v", d.ByState, wantStates)
		}
		// A: 10 seats, 3 taken, 1 dirty, 6 free but capacity 8 leaves 5.
		// B: seats 9..12, of which 9 and 10 are A's (free) — 4 free seats.
		wantLoad := []wod.WorkshopLoad{
			{Slug: a.Slug, Title: "API 101", Location: "local", Active: true, Capacity: 8, Free: 5, Taken: 3, Dirty: 1},
			{Slug: "WKSHP-B", Title: "B", Location: "local", Active: true, Capacity: 10, Free: 4},
		}
		if !slices.Equal(d.Workshops, wantLoad) {
			t.Fatalf("workshops:\n got %+v\nwant %+v", d.Workshops, wantLoad)
		}
		if len(d.Locations) != 2 || d.Locations[0].Name != "far" || d.Locations[0].LastHeartbeat != nil ||
			d.Locations[1].Name != "local" || d.Locations[1].LastHeartbeat == nil ||
			!d.Locations[1].LastHeartbeat.Equal(clock.Now().Add(-time.Second)) || d.Locations[1].Health != "ok" {
			t.Fatalf("locations: %+v %+v", d.Locations[0], d.Locations[1])
		}
		if d.FailingJobsTotal != 2 || len(d.FailingJobs) != 2 || d.FailingJobs[0].ID != failed.ID ||
			d.FailingJobs[0].State != wod.JobFailed || d.FailingJobs[0].LastError != "disk full" ||
			d.FailingJobs[1].ID != retried.ID || d.FailingJobs[1].State != wod.JobQueued ||
			d.FailingJobs[1].LastError != "hub unreachable" {
			t.Fatalf("failing jobs (%d): %+v", d.FailingJobsTotal, d.FailingJobs)
		}
		if len(d.GuardEvents) != 20 || d.GuardEvents[0].Detail != "kill 24" || d.GuardEvents[19].Detail != "kill 5" {
			t.Fatalf("guard events: %d %+v", len(d.GuardEvents), d.GuardEvents)
		}
		for _, e := range d.GuardEvents {
			if e.Kind != "guard.kill" {
				t.Fatalf("not a guard event: %+v", e)
			}
		}
	})
}

// TestStatsAtScale fills the store with 12 000 registrations over ten days
// and checks that the aggregates count them all. It logs how long they
// took (tens of milliseconds) rather than failing on a bound: under -race
// on a busy machine SQLite alone takes seconds.
func TestStatsAtScale(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("bulk data")
	}
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			dsn := storetest.DSN(t, d)
			ctx := context.Background()
			clock := storetest.NewClock(t0)
			db, err := store.Open(ctx, dsn, clock)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			l, w := fixture(t, db, 40, 1, 20, 20)
			raw := rawConn(t, d, dsn)
			// PostgreSQL types a bare parameter of a SELECT list as text.
			at := "$5"
			if d == store.Postgres {
				at = "CAST($5 AS TIMESTAMPTZ)"
			}
			const perDay, days = 1200, 10
			for i := range days {
				// Completions cycle through 0..99; every fifth registration failed.
				_, err := raw.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
					INSERT INTO registrations (workshop_id, name, email, state, location_id, completion, created_at, updated_at)
					SELECT CAST($2 AS INTEGER), 'P', 'p' || i || '-' || $3 || '@example.com',
					CASE WHEN i % 5 = 0 THEN 'failed' ELSE 'done' END, CAST($4 AS INTEGER),
					CASE WHEN i % 5 = 0 THEN NULL ELSE i % 100 END, `+at+`, `+at+` FROM n`,
					perDay, w.ID, fmt.Sprint(i), l.ID, t0.Add(time.Duration(i)*24*time.Hour))
				if err != nil {
					t.Fatalf("bulk insert: %v", err)
				}
			}
			clock.Advance(days*24*time.Hour + time.Minute)

			start := time.Now()
			stats, err := db.WorkshopStats(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			perDayCounts, err := db.RegistrationsPerDay(ctx, t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			dash, err := db.Dashboard(ctx)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			t.Logf("%d registrations: stats, per day and dashboard in %v", perDay*days, took)
			s := stats[0]
			if s.Registrations != perDay*days || s.Failed != perDay*days/5 || s.Finished != perDay*days*4/5 {
				t.Fatalf("stats: %+v", s)
			}
			total := 0
			for _, c := range s.Completion {
				total += c
			}
			if total != s.Finished || s.Completion[0] != s.Completion[9] {
				t.Fatalf("histogram %v does not hold the %d finished", s.Completion, s.Finished)
			}
			if len(perDayCounts) != days+1 || perDayCounts[0].Registrations != perDay || perDayCounts[days].Registrations != 0 {
				t.Fatalf("per day: %v", perDayCounts)
			}
			// All of them finished more than a day ago.
			if dash.ByState[wod.StateDone] != 0 || dash.ByState[wod.StateFailed] != 0 {
				t.Fatalf("dashboard counts old registrations: %v", dash.ByState)
			}
		})
	}
}

// rawConn opens a plain connection beside the store's, for bulk inserts;
// SQLite gets the store's time format so that the rows compare as its own.
func rawConn(t *testing.T, d store.Dialect, dsn string) *sql.DB {
	t.Helper()
	driver, src := "pgx", dsn
	if d == store.SQLite {
		driver = "sqlite"
		src = "file:" + strings.TrimPrefix(dsn, "sqlite:") + "?_time_format=sqlite&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
