package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

const stale = 2 * time.Minute

// twoHubs is fixture's workshop offered at local and at a second location,
// hub2, with the same seat range at both.
func twoHubs(t *testing.T, db *store.DB, min, max, capacity int) (local, hub2 *wod.Location, w *wod.Workshop) {
	t.Helper()
	ctx := context.Background()
	local, w = fixture(t, db, 10, min, max, capacity)
	hub2 = &wod.Location{Name: "hub2", HubURL: "http://127.0.0.1:8001", BaseStudentID: 1000, Students: 10}
	if err := db.CreateLocation(ctx, hub2); err != nil {
		t.Fatal(err)
	}
	ids := []int64{local.ID, hub2.ID}
	w, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{LocationIDs: &ids})
	if err != nil {
		t.Fatal(err)
	}
	return local, hub2, w
}

func beat(t *testing.T, db *store.DB, ls ...*wod.Location) {
	t.Helper()
	for _, l := range ls {
		if _, err := db.Heartbeat(context.Background(), l.ID, "ok", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
}

func book(t *testing.T, db *store.DB, workshop, email string) *wod.Registration {
	t.Helper()
	r, err := db.CreateRegistration(context.Background(), &wod.NewRegistration{AgentStale: stale,
		Request: wod.RegistrationRequest{Workshop: workshop, Name: "P", Email: email},
		Jobs:    []*wod.Job{{Kind: wod.JobCreate}}})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return r
}

func TestWorkshopLocations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 4, 6)
		if !slices.Equal(w.Locations, []string{"local", "hub2"}) || !slices.Equal(w.LocationIDs, []int64{local.ID, hub2.ID}) ||
			w.LocationID != local.ID || w.Location != "local" || w.SeatsFree != 6 {
			t.Fatalf("workshop at two locations: %+v", w)
		}
		// Listed under either location, with its locations.
		ws, n, err := db.FindWorkshops(ctx, wod.WorkshopFilter{LocationID: &hub2.ID})
		if err != nil || n != 1 || !slices.Equal(ws[0].Locations, []string{"local", "hub2"}) {
			t.Fatalf("workshops at hub2: %d %v %v", n, ws, err)
		}
		// Neither location can go while the workshop is offered there.
		if err := db.DeleteLocation(ctx, "hub2"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("delete hub2: %v", err)
		}
		three := 3
		if _, err := db.UpdateLocation(ctx, "hub2", wod.LocationUpdate{Students: &three}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("shrink hub2 under the range: %v", err)
		}
		// The range must fit every location; a list names each once.
		small := &wod.Location{Name: "small", Students: 2}
		if err := db.CreateLocation(ctx, small); err != nil {
			t.Fatal(err)
		}
		for _, ids := range [][]int64{{local.ID, small.ID}, {hub2.ID, hub2.ID}, {local.ID, 999999}} {
			if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{LocationIDs: &ids}); wod.ErrorCode(err) != wod.EINVALID {
				t.Fatalf("locations %v: %v", ids, err)
			}
		}
		// A re-import leaves the locations alone (they are the operators').
		in := *w
		in.Title, in.LocationID, in.LocationIDs = "API 101, again", local.ID, nil
		if _, err := db.ImportWorkshops(ctx, []*wod.Workshop{&in}); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.FindWorkshop(ctx, w.Slug); got.Title != "API 101, again" || !slices.Equal(got.Locations, []string{"local", "hub2"}) {
			t.Fatalf("after re-import: %+v", got)
		}
		// hub2 may use a range of its own (two locations on one machine
		// cannot share account names); it must fit there too.
		ranges := []wod.SeatRange{{}, {Min: 5, Max: 8}}
		ids := []int64{local.ID, hub2.ID}
		got, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{LocationIDs: &ids, LocationRanges: &ranges})
		if err != nil || !slices.Equal(got.Locations, []string{"local", "hub2:5-8"}) || got.SeatsFree != 6 ||
			got.SeatsAt(hub2.ID) != (wod.SeatRange{Min: 5, Max: 8}) || got.SeatsAt(local.ID) != (wod.SeatRange{Min: 1, Max: 4}) {
			t.Fatalf("hub2's own range: %+v %v", got, err)
		}
		beat(t, db, local, hub2)
		for i, want := range []string{"local/1", "hub2/5", "local/2", "hub2/6"} {
			r := book(t, db, w.Slug, fmt.Sprintf("own%d@example.com", i))
			if at := fmt.Sprintf("%s/%d", r.Location, r.StudentNumber); at != want {
				t.Fatalf("registration %d at %s, want %s", i, at, want)
			}
		}
		bad := []wod.SeatRange{{}, {Min: 5, Max: 11}}
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{LocationIDs: &ids, LocationRanges: &bad}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("a range beyond hub2's students: %v", err)
		}
		// LocationID alone is a move to that one location.
		if got, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{LocationID: &hub2.ID}); err != nil ||
			!slices.Equal(got.Locations, []string{"hub2"}) || got.Location != "hub2" {
			t.Fatalf("move to hub2: %+v %v", got, err)
		}
	})
}

func TestPlacement(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 4, 7)
		beat(t, db, local, hub2)
		at := func(r *wod.Registration) string { return fmt.Sprintf("%s/%d", r.Location, r.StudentNumber) }

		// Both alive: the most free seats first, ties to the first location.
		var got []string
		for i := range 4 {
			got = append(got, at(book(t, db, w.Slug, fmt.Sprintf("a%d@example.com", i))))
		}
		if want := []string{"local/1", "hub2/1", "local/2", "hub2/2"}; !slices.Equal(got, want) {
			t.Fatalf("spread: %v, want %v", got, want)
		}
		if w, _ := db.FindWorkshop(ctx, w.Slug); w.SeatsFree != 3 {
			t.Fatalf("seats free: %d", w.SeatsFree)
		}

		// hub2's agent goes silent: no new participant goes there, though
		// it has as many free seats.
		clock.Advance(stale + time.Second)
		beat(t, db, local)
		if r := book(t, db, w.Slug, "b1@example.com"); at(r) != "local/3" {
			t.Fatalf("with hub2 silent: %s", at(r))
		}
		if r := book(t, db, w.Slug, "b2@example.com"); at(r) != "local/4" {
			t.Fatalf("with hub2 silent: %s", at(r))
		}
		// local is full and hub2 silent: full, although the capacity allows one more.
		if _, err := db.CreateRegistration(ctx, &wod.NewRegistration{AgentStale: stale,
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "P", Email: "b3@example.com"}}); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("only a silent location has seats: %v", err)
		}
		// When every agent is silent they all stay eligible: the create
		// waits for an agent, as with one location.
		clock.Advance(stale + time.Second)
		if r := book(t, db, w.Slug, "b4@example.com"); at(r) != "hub2/3" {
			t.Fatalf("all silent: %s", at(r))
		}
		// The capacity is across the locations.
		if _, err := register(db, w.Slug, "b5@example.com"); wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("over capacity: %v", err)
		}
	})
}

func TestPlacementNeverHeard(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		local, hub2, w := twoHubs(t, db, 1, 3, 6)
		// Nobody heard from: a fresh install books all the same.
		if r := book(t, db, w.Slug, "a@example.com"); r.Location != "local" {
			t.Fatalf("fresh install: %s", r.Location)
		}
		// An agent that spoke comes before one never heard of, even with
		// fewer free seats; the latter takes what the former cannot.
		beat(t, db, local)
		for i, want := range []string{"local", "local", "hub2"} {
			if r := book(t, db, w.Slug, fmt.Sprintf("b%d@example.com", i)); r.Location != want {
				t.Fatalf("registration %d at %s, want %s", i, r.Location, want)
			}
		}
		// Silent local, never-heard hub2: hub2 (it may be starting).
		clock.Advance(stale + time.Second)
		if r := book(t, db, w.Slug, "c@example.com"); r.Location != "hub2" {
			t.Fatalf("silent local: %s", r.Location)
		}
		_ = hub2
	})
}

func TestMoveStrandedCreates(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 4, 8)
		beat(t, db, local, hub2)
		r1 := book(t, db, w.Slug, "r1@example.com") // local/1
		r2 := book(t, db, w.Slug, "r2@example.com") // hub2/1
		r3 := book(t, db, w.Slug, "r3@example.com") // local/2
		r4 := book(t, db, w.Slug, "r4@example.com") // hub2/2
		if r2.Location != "hub2" || r4.Location != "hub2" || r1.Location != "local" || r3.Location != "local" {
			t.Fatalf("placement: %s %s %s %s", r1.Location, r2.Location, r3.Location, r4.Location)
		}
		// hub2's agent claims r2's create, then falls silent; r4's create
		// was never claimed.
		claimed, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobCreate}, &hub2.ID, "agent@hub2", 10*time.Minute, 1)
		if err != nil || len(claimed) != 1 || *claimed[0].RegistrationID != r2.ID {
			t.Fatalf("claim at hub2: %v %v", claimed, err)
		}
		old := claimed[0]
		// Silent, but not yet for stale: nothing moves.
		clock.Advance(time.Minute)
		if ms, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil || len(ms) != 0 {
			t.Fatalf("too early: %v %v", ms, err)
		}
		clock.Advance(stale)
		beat(t, db, local)
		ms, err := db.MoveStrandedCreates(ctx, stale, 10)
		if err != nil || len(ms) != 2 {
			t.Fatalf("moves: %+v %v", ms, err)
		}
		want := []wod.CreateMove{{RegistrationID: r2.ID, From: "hub2", To: "local", FromNumber: 1, ToNumber: 3, Purge: true},
			{RegistrationID: r4.ID, From: "hub2", To: "local", FromNumber: 2, ToNumber: 4, Purge: false}}
		if !slices.Equal(ms, want) {
			t.Fatalf("moves: %+v, want %+v", ms, want)
		}
		for _, m := range ms {
			r, _ := db.FindRegistration(ctx, m.RegistrationID)
			if r.State != wod.StatePending || r.Location != "local" || r.StudentNumber != m.ToNumber || !r.SeatHeld {
				t.Fatalf("moved registration: %+v", r)
			}
			jobs, _, _ := db.FindJobs(ctx, wod.JobFilter{RegistrationID: &r.ID, Kind: ptr(wod.JobCreate)})
			if len(jobs) != 1 || jobs[0].State != wod.JobQueued || *jobs[0].LocationID != local.ID {
				t.Fatalf("moved create: %+v", jobs)
			}
		}
		// Again: nothing left to move.
		if ms, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil || len(ms) != 0 {
			t.Fatalf("second pass: %v %v", ms, err)
		}
		// The silent agent's report of its old attempt is refused.
		if err := db.CompleteJob(ctx, &wod.JobCompletion{JobID: old.ID, Attempt: old.Attempts}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("the old attempt's report: %v", err)
		}
		// local's agent takes the creates, with an attempt of its own.
		got, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobCreate}, &local.ID, "agent@local", 10*time.Minute, 10)
		if err != nil || len(got) != 4 {
			t.Fatalf("claims at local: %v %v", got, err)
		}
		for _, j := range got {
			if *j.RegistrationID == r2.ID && (j.ID != old.ID || j.Attempts != old.Attempts+1 || j.MaxAttempts != old.Attempts+wod.DefaultMaxAttempts) {
				t.Fatalf("the moved create's attempt: %+v", j)
			}
		}
		// hub2: r4's seat is free at once (nothing was done there); r2's is
		// dirty until the purge has run, which waits for the old lease.
		seats := seatStates(t, db, hub2.ID)
		if seats[1] != wod.SeatDirty || seats[2] != wod.SeatFree {
			t.Fatalf("hub2's seats: %v", seats)
		}
		if js, _, _ := db.ClaimJobs(ctx, []wod.JobKind{wod.JobPurge}, &hub2.ID, "agent@hub2", time.Minute, 10); len(js) != 0 {
			t.Fatalf("purge before the old lease ended: %+v", js)
		}
		clock.Advance(10 * time.Minute)
		purge, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobPurge}, &hub2.ID, "agent@hub2", time.Minute, 10)
		if err != nil || len(purge) != 1 || purge[0].RegistrationID != nil {
			t.Fatalf("purge of the old seat: %+v %v", purge, err)
		}
		var p wod.SeatPurge
		if err := json.Unmarshal(purge[0].Args, &p); err != nil || p.Number != 1 || p.RegistrationID != r2.ID {
			t.Fatalf("purge args: %s %v", purge[0].Args, err)
		}
		if err := db.ReleaseSeat(ctx, p, &wod.JobCompletion{JobID: purge[0].ID, Attempt: purge[0].Attempts}); err != nil {
			t.Fatal(err)
		}
		if seats := seatStates(t, db, hub2.ID); seats[1] != wod.SeatFree {
			t.Fatalf("hub2's seat after the purge: %v", seats)
		}
		// Every registration holds exactly one seat.
		assertOneSeatEach(t, db)
	})
}

func TestMoveNowhereToGo(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 2, 4)
		beat(t, db, local, hub2)
		book(t, db, w.Slug, "a@example.com")
		r := book(t, db, w.Slug, "b@example.com")
		book(t, db, w.Slug, "c@example.com")
		// Both silent: nowhere to go. Then local full: still nowhere.
		clock.Advance(stale + time.Second)
		if ms, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil || len(ms) != 0 {
			t.Fatalf("all silent: %v %v", ms, err)
		}
		beat(t, db, local)
		if ms, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil || len(ms) != 0 {
			t.Fatalf("local full: %v %v", ms, err)
		}
		if got, _ := db.FindRegistration(ctx, r.ID); got.Location != "hub2" {
			t.Fatalf("registration moved anyway: %+v", got)
		}
	})
}

// TestPlacementConcurrent books and moves at once: no seat is given twice,
// the capacity holds, and every registration holds exactly one seat.
func TestPlacementConcurrent(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 8, 12)
		beat(t, db, local, hub2)
		for i := range 4 {
			book(t, db, w.Slug, fmt.Sprintf("early%d@example.com", i))
		}
		clock.Advance(stale + time.Second)
		beat(t, db, local)
		var wg sync.WaitGroup
		var mu sync.Mutex
		booked, full := 0, 0
		for i := range 12 {
			wg.Go(func() {
				_, err := db.CreateRegistration(ctx, &wod.NewRegistration{AgentStale: stale,
					Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "P", Email: fmt.Sprintf("p%d@example.com", i)},
					Jobs:    []*wod.Job{{Kind: wod.JobCreate}}})
				mu.Lock()
				defer mu.Unlock()
				switch wod.ErrorCode(err) {
				case "":
					booked++
				case wod.EFULL:
					full++
				default:
					t.Errorf("register: %v", err)
				}
			})
			if i%4 == 0 {
				wg.Go(func() {
					if _, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil {
						t.Errorf("move: %v", err)
					}
				})
			}
		}
		wg.Wait()
		if _, err := db.MoveStrandedCreates(ctx, stale, 10); err != nil {
			t.Fatal(err)
		}
		// local has 8 seats and hub2 is silent: the 2 early ones at local,
		// and new ones and those moved from hub2 (whichever came first) fill
		// it; nothing new goes to hub2.
		if booked < 4 || booked > 6 || booked+full != 12 {
			t.Fatalf("booked %d, full %d", booked, full)
		}
		assertOneSeatEach(t, db)
		n, err := db.QueryInts(ctx, `SELECT COUNT(*) FROM registrations WHERE location_id = $1`, local.ID)
		if err != nil || n[0] != 8 {
			t.Fatalf("registrations at local: %v %v", n, err)
		}
		n, err = db.QueryInts(ctx, `SELECT COUNT(*) FROM registrations WHERE location_id = $1`, hub2.ID)
		if err != nil || int(n[0]) != 4+booked-8 {
			t.Fatalf("registrations at hub2: %v (booked %d) %v", n, booked, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func seatStates(t *testing.T, db *store.DB, locationID int64) map[int]wod.SeatState {
	t.Helper()
	ss, _, err := db.FindSeats(context.Background(), wod.SeatFilter{LocationID: &locationID, Page: wod.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]wod.SeatState{}
	for _, s := range ss {
		out[s.Number] = s.State
	}
	return out
}

// assertOneSeatEach checks that each live registration's seat is assigned
// to it, at its location and number, and that no assigned seat belongs to
// no live registration.
func assertOneSeatEach(t *testing.T, db *store.DB) {
	t.Helper()
	bad, err := db.QueryInts(context.Background(), `SELECT r.id FROM registrations r LEFT JOIN seats s ON s.id = r.seat_id
		WHERE r.state = 'pending' AND (s.id IS NULL OR s.state <> 'assigned' OR s.registration_id <> r.id
			OR s.location_id <> r.location_id OR s.number <> r.student_number)`)
	if err != nil || len(bad) > 0 {
		t.Fatalf("registrations without their seat: %v %v", bad, err)
	}
	stray, err := db.QueryInts(context.Background(), `SELECT s.id FROM seats s WHERE s.state = 'assigned'
		AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.seat_id = s.id AND r.state = 'pending')`)
	if err != nil || len(stray) > 0 {
		t.Fatalf("assigned seats nobody holds: %v %v", stray, err)
	}
}

// TestBookedAsStored: the registration a cold booking returns is the one
// stored, as a read gives it (but for the database's precision of times),
// at either location of a workshop and for a rehearsal's robot.
func TestBookedAsStored(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		local, hub2, w := twoHubs(t, db, 1, 4, 7)
		beat(t, db, local, hub2)
		same := func(got *wod.Registration) {
			t.Helper()
			stored, err := db.FindRegistration(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, s := *got, *stored
			for _, r := range []*wod.Registration{&b, &s} {
				r.CreatedAt, r.UpdatedAt = r.CreatedAt.Truncate(time.Microsecond), r.UpdatedAt.Truncate(time.Microsecond)
			}
			if !reflect.DeepEqual(b, s) || !reflect.DeepEqual(*b.At, *s.At) {
				t.Fatalf("booked %+v at %+v\nstored %+v at %+v", b, *b.At, s, *s.At)
			}
		}
		for i, want := range []string{"local", "hub2"} {
			r, err := db.CreateRegistration(ctx, &wod.NewRegistration{AgentStale: stale,
				Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann Smith", Email: fmt.Sprintf("a%d@example.com", i),
					Company: "ACME", ClientIP: "192.0.2.7"},
				Jobs: []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()}}})
			if err != nil || r.Location != want {
				t.Fatalf("booking %d: %+v %v, want at %s", i, r, err, want)
			}
			same(r)
		}
		rh := &wod.Rehearsal{Workshop: w.Slug, RequestedBy: "cli"}
		if err := db.CreateRehearsal(ctx, rh); err != nil {
			t.Fatal(err)
		}
		robot, err := db.CreateRegistration(ctx, &wod.NewRegistration{AgentStale: stale, RehearsalID: &rh.ID,
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Rehearsal", Email: "robot@wod.invalid"}})
		if err != nil || robot.RehearsalID == nil {
			t.Fatalf("rehearsal booking: %+v %v", robot, err)
		}
		same(robot)
	})
}
