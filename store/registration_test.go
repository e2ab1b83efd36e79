package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestRegistration(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 3, 5, 20)

		nr := &wod.NewRegistration{
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann Smith", Email: "ann@example.com", Company: "ACME"},
			Jobs:    []*wod.Job{{Kind: wod.JobCreate}, {Kind: wod.JobWatchdog, RunAt: t0.Add(10 * time.Minute), Args: json.RawMessage(`{"why":"test"}`)}},
			Mails:   []*wod.Mail{{Kind: wod.MailWelcome, To: "ann@example.com", Subject: "Welcome", Text: "Hello"}},
		}
		r, err := db.CreateRegistration(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		// The lowest seat of the range, not of the location.
		if r.State != wod.StatePending || r.StudentNumber != 3 || r.Username != "student3" || r.Workshop != w.Slug ||
			r.SeatID == nil || !r.CreatedAt.Equal(t0) || r.Email != "ann@example.com" {
			t.Fatalf("registration: %+v", r)
		}
		jobs, n, err := db.FindJobs(ctx, wod.JobFilter{RegistrationID: &r.ID})
		if err != nil || n != 2 {
			t.Fatalf("jobs: %d %v", n, err)
		}
		if jobs[0].Kind != wod.JobWatchdog || !jobs[0].RunAt.Equal(t0.Add(10*time.Minute)) ||
			string(jobs[0].Args) != `{"why":"test"}` || jobs[0].State != wod.JobQueued || *jobs[0].LocationID != r.LocationID {
			t.Fatalf("watchdog job: %+v", jobs[0])
		}
		mails, n, err := db.FindMails(ctx, wod.MailFilter{RegistrationID: &r.ID})
		if err != nil || n != 1 || mails[0].Subject != "Welcome" || mails[0].State != wod.MailQueued {
			t.Fatalf("mails: %d %v %v", n, mails, err)
		}

		// The same e-mail again: already registered, with the end time.
		_, err = register(db, w.Slug, "ann@example.com")
		var e *wod.Error
		if wod.ErrorCode(err) != wod.EALREADYREGISTERED || !errors.As(err, &e) || e.EndsAt == nil ||
			!e.EndsAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("second registration: %v", err)
		}

		// Unknown and inactive workshops are invalid input, not "full".
		if _, err := register(db, "WKSHP-Nope", "bob@example.com"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("unknown workshop: %v", err)
		}
		off := false
		db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Active: &off})
		if _, err := register(db, w.Slug, "bob@example.com"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("inactive workshop: %v", err)
		}
		on := true
		db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Active: &on})

		// Seats 4 and 5 remain; then full.
		for i, want := range []int{4, 5} {
			r, err := register(db, w.Slug, fmt.Sprintf("p%d@example.com", i))
			if err != nil || r.StudentNumber != want {
				t.Fatalf("registration %d: seat %v, err %v", i, r, err)
			}
		}
		if _, err := register(db, w.Slug, "late@example.com"); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("fourth registration: %v, want full", err)
		}
		// Capacity below the free seats: full at capacity.
		one := 1
		db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Capacity: &one})
		if _, err := register(db, w.Slug, "late@example.com"); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("over capacity: %v, want full", err)
		}

		// Ready, as the engine's ready step applies it: the clock starts
		// now; a second transition is a conflict.
		clock.Advance(time.Minute)
		markReady := func() (*wod.Registration, error) {
			now, ends := clock.Now(), clock.Now().Add(w.Duration.Std())
			return db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
				To: wod.StateReady, ReadyAt: &now, EndsAt: &ends, PasswordEnc: []byte("sealed"),
				Cancel: []wod.JobKind{wod.JobWatchdog}})
		}
		ready, err := markReady()
		if err != nil || ready.State != wod.StateReady || !ready.ReadyAt.Equal(clock.Now()) ||
			!ready.EndsAt.Equal(clock.Now().Add(2*time.Hour)) || string(ready.PasswordEnc) != "sealed" {
			t.Fatalf("mark ready: %+v %v", ready, err)
		}
		if _, err := markReady(); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("mark ready twice: %v", err)
		}
		_, err = register(db, w.Slug, "ann@example.com")
		if !errors.As(err, &e) || e.EndsAt == nil || !e.EndsAt.Equal(*ready.EndsAt) {
			t.Fatalf("already registered after ready: %v", err)
		}

		got, err := db.FindRegistration(ctx, r.ID)
		if err != nil || got.Name != "Ann Smith" || got.Company != "ACME" {
			t.Fatalf("find: %+v %v", got, err)
		}
		if _, err := db.FindRegistration(ctx, 9999); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("find unknown: %v", err)
		}
		pending := wod.StatePending
		slug := w.Slug
		rs, n, err := db.FindRegistrations(ctx, wod.RegistrationFilter{State: &pending, Workshop: &slug})
		if err != nil || n != 2 || rs[0].ID < rs[1].ID {
			t.Fatalf("list: %d %v", n, err)
		}
		search := "ANN@EXAMPLE"
		rs, n, _ = db.FindRegistrations(ctx, wod.RegistrationFilter{Search: &search})
		if n != 1 || rs[0].ID != r.ID {
			t.Fatalf("search: %d", n)
		}
		pct := "%"
		if _, n, _ = db.FindRegistrations(ctx, wod.RegistrationFilter{Search: &pct}); n != 0 {
			t.Fatalf("search for %% matched %d (wildcards must be literal)", n)
		}
	})
}

// TestConcurrentRegistrations fires 200 registrations at once at a workshop
// with 20 seats: exactly 20 win, every seat once, the rest hear "full".
func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 40, 11, 30, 100)
		const n = 200
		var wg sync.WaitGroup
		results := make([]*wod.Registration, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = register(db, w.Slug, fmt.Sprintf("p%03d@example.com", i))
			})
		}
		close(start)
		wg.Wait()
		seats := map[int]int{}
		full := 0
		for i := range n {
			switch {
			case errs[i] == nil:
				seats[results[i].StudentNumber]++
			case wod.ErrorCode(errs[i]) == wod.EFULL:
				full++
			default:
				t.Fatalf("registration %d: unexpected error %v", i, errs[i])
			}
		}
		if len(seats) != 20 || full != n-20 {
			t.Fatalf("%d distinct seats given, %d full answers; want 20 and %d", len(seats), full, n-20)
		}
		for num, c := range seats {
			if c != 1 || num < 11 || num > 30 {
				t.Fatalf("seat %d given %d times", num, c)
			}
		}
		assigned := wod.SeatAssigned
		if _, k, _ := db.FindSeats(ctx, wod.SeatFilter{State: &assigned}); k != 20 {
			t.Fatalf("%d seats assigned, want 20", k)
		}
		got, _ := db.FindWorkshop(ctx, w.Slug)
		if got.SeatsFree != 0 {
			t.Fatalf("SeatsFree = %d, want 0", got.SeatsFree)
		}
	})
}

// TestConcurrentSameEmail: one address racing itself, across two
// workshops, gets exactly one live registration.
func TestConcurrentSameEmail(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 40, 1, 20, 20)
		w2 := *w
		w2.Slug, w2.SeatMin, w2.SeatMax = "WKSHP-Other", 21, 40
		if err := db.CreateWorkshop(ctx, &w2); err != nil {
			t.Fatal(err)
		}
		_ = l
		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range 40 {
			slug := w.Slug
			if i%2 == 1 {
				slug = w2.Slug
			}
			wg.Go(func() { _, errs[i] = register(db, slug, "same@example.com") })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch wod.ErrorCode(err) {
			case "":
				ok++
			case wod.EALREADYREGISTERED:
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d registrations succeeded for one address, want 1", ok)
		}
	})
}

// TestFindRegistrationWorkshop: the one-statement read of a registration
// and its workshop's settings gives what the two reads give apart, for a
// registration at the workshop's second location too (whose name is not the
// workshop's first location's).
func TestFindRegistrationWorkshop(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 4, 7)
		beat(t, db, local, hub2)
		for i, where := range []string{"local", "hub2"} {
			booked := book(t, db, w.Slug, fmt.Sprintf("p%d@example.com", i))
			if booked.Location != where {
				t.Fatalf("booking %d is at %s, want %s", i, booked.Location, where)
			}
			r, rw, err := db.FindRegistrationWorkshop(ctx, booked.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantR, err := db.FindRegistration(ctx, booked.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantW, err := db.FindWorkshopSettings(ctx, w.Slug)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, wantR) {
				t.Fatalf("registration at %s:\n got %+v\nwant %+v", where, r, wantR)
			}
			if !reflect.DeepEqual(rw, wantW) {
				t.Fatalf("workshop of the registration at %s:\n got %+v\nwant %+v", where, rw, wantW)
			}
			if rw.Location != "local" || r.At.Name != where {
				t.Fatalf("names: workshop's first location %q, registration's %q", rw.Location, r.At.Name)
			}
		}
		if _, _, err := db.FindRegistrationWorkshop(ctx, 999999); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("no such registration: %v", err)
		}
	})
}

// TestFindJobRegistration: a job with its registration and workshop in one
// read, and a job without a registration (a seat's purge) alone.
func TestFindJobRegistration(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 10, 1, 5, 5)
		booked := book(t, db, w.Slug, "ann@example.com")
		js, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobCreate}, &l.ID, "agent", time.Minute, 1)
		if err != nil || len(js) != 1 {
			t.Fatalf("claim the create: %v %v", js, err)
		}
		j, r, rw, err := db.FindJobRegistration(ctx, js[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		wantJ, _ := db.FindJob(ctx, js[0].ID)
		wantR, _ := db.FindRegistration(ctx, booked.ID)
		wantW, _ := db.FindWorkshopSettings(ctx, w.Slug)
		if !reflect.DeepEqual(j, wantJ) || !reflect.DeepEqual(r, wantR) || !reflect.DeepEqual(rw, wantW) {
			t.Fatalf("job with its registration:\n got %+v\n     %+v\n     %+v\nwant %+v\n     %+v\n     %+v", j, r, rw, wantJ, wantR, wantW)
		}

		purge := &wod.Job{Kind: wod.JobPurge, LocationID: &l.ID, RunAt: clock.Now()}
		if err := db.ScheduleJobs(ctx, []*wod.Job{purge}); err != nil {
			t.Fatal(err)
		}
		j, r, rw, err = db.FindJobRegistration(ctx, purge.ID)
		if err != nil || j.ID != purge.ID || j.Kind != wod.JobPurge || r != nil || rw != nil {
			t.Fatalf("job without a registration: %+v %+v %+v %v", j, r, rw, err)
		}
		if _, _, _, err := db.FindJobRegistration(ctx, 999999); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("no such job: %v", err)
		}
	})
}

// TestBookingComposesItsWelcome: a cold booking composes its welcome from
// the workshop as it locked it and queues it with the registration; a
// booking refused composes none, and a welcome that fails books nothing.
func TestBookingComposesItsWelcome(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 1, 1)
		calls := 0
		booking := func(email string, fail error) *wod.NewRegistration {
			return &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann", Email: email},
				Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()}},
				Welcome: func(got *wod.Workshop) (*wod.Mail, error) {
					calls++
					if got.ID != w.ID || got.Title != w.Title || got.Duration != w.Duration {
						return nil, fmt.Errorf("welcome given %+v", got)
					}
					if fail != nil {
						return nil, fail
					}
					return &wod.Mail{Kind: wod.MailWelcome, To: email, Subject: "Welcome to " + got.Title, Text: "hi"}, nil
				},
			}
		}
		broken := errors.New("the template broke")
		if _, err := db.CreateRegistration(ctx, booking("ann@example.com", broken)); !errors.Is(err, broken) {
			t.Fatalf("a failed welcome: %v", err)
		}
		r, err := db.CreateRegistration(ctx, booking("ann@example.com", nil))
		if err != nil || r.StudentNumber != 1 {
			t.Fatalf("booking after a failed welcome: %+v %v (its seat must be free again)", r, err)
		}
		ms, _, err := db.FindMails(ctx, wod.MailFilter{RegistrationID: &r.ID})
		if err != nil || len(ms) != 1 || ms[0].Subject != "Welcome to "+w.Title || ms[0].To != "ann@example.com" {
			t.Fatalf("queued mails: %+v %v", ms, err)
		}
		if _, err := db.CreateRegistration(ctx, booking("bob@example.com", nil)); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("full: %v", err)
		}
		if calls != 2 {
			t.Fatalf("welcome composed %d times, want 2 (none for the booking refused)", calls)
		}
	})
}
