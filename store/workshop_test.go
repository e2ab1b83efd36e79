package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestWorkshops(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 100, 1, 6, 20)

		got, err := db.FindWorkshop(ctx, "WKSHP-API101")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "API 101" || got.Location != "local" || got.Duration.Std() != 2*time.Hour ||
			!slices.Equal(got.Categories, []string{"Open Source"}) || !got.CreatedAt.Equal(t0) {
			t.Fatalf("round trip: %+v", got)
		}
		// 20 capacity but only 6 seats in range: 6 are free.
		if got.SeatsFree != 6 {
			t.Fatalf("SeatsFree = %d, want 6", got.SeatsFree)
		}

		if err := db.CreateWorkshop(ctx, w); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("duplicate slug: %v, want conflict", err)
		}
		bad := *w
		bad.Slug, bad.SeatMax = "WKSHP-Big", 101
		if err := db.CreateWorkshop(ctx, &bad); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("range beyond location: %v, want invalid", err)
		}
		bad.SeatMax, bad.Title = 5, ""
		if err := db.CreateWorkshop(ctx, &bad); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("no title: %v, want invalid", err)
		}

		// Filters.
		inactive := *w
		inactive.Slug, inactive.Active, inactive.Priority, inactive.Categories = "WKSHP-GIT101", false, 5, []string{"Developer"}
		if err := db.CreateWorkshop(ctx, &inactive); err != nil {
			t.Fatal(err)
		}
		yes := true
		ws, n, err := db.FindWorkshops(ctx, wod.WorkshopFilter{Active: &yes})
		if err != nil || n != 1 || ws[0].Slug != "WKSHP-API101" {
			t.Fatalf("active filter: %d %v %v", n, ws, err)
		}
		cat := "open source"
		ws, n, _ = db.FindWorkshops(ctx, wod.WorkshopFilter{Category: &cat})
		if n != 1 || ws[0].Slug != "WKSHP-API101" {
			t.Fatalf("category filter is case-insensitive: got %d", n)
		}
		ws, n, _ = db.FindWorkshops(ctx, wod.WorkshopFilter{LocationID: &l.ID, Page: wod.Page{Limit: 1, Offset: 1}})
		if n != 2 || len(ws) != 1 || ws[0].Slug != "WKSHP-GIT101" {
			t.Fatalf("paging: total %d, page %v", n, ws)
		}

		// Operator changes are recorded as overrides.
		active, capacity := true, 3
		upd, err := db.UpdateWorkshop(ctx, "WKSHP-GIT101", wod.WorkshopUpdate{Active: &active, Capacity: &capacity})
		if err != nil {
			t.Fatal(err)
		}
		if !upd.Active || upd.Capacity != 3 || !slices.Equal(upd.Overrides, []string{"active", "capacity"}) {
			t.Fatalf("update: active %v capacity %d overrides %v", upd.Active, upd.Capacity, upd.Overrides)
		}
		tooBig := 200
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-GIT101", wod.WorkshopUpdate{SeatMax: &tooBig}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("update beyond location: %v", err)
		}
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-Nope", wod.WorkshopUpdate{Active: &active}); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("update unknown: %v", err)
		}

		// Delete: refused once registered for, allowed otherwise.
		if _, err := register(db, "WKSHP-API101", "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteWorkshop(ctx, "WKSHP-API101"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("delete registered workshop: %v", err)
		}
		if err := db.DeleteWorkshop(ctx, "WKSHP-GIT101"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindWorkshop(ctx, "WKSHP-GIT101"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("deleted workshop still found: %v", err)
		}
		slug := "WKSHP-API101"
		list, _, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{Slug: &slug})
		got = list[0]
		if !got.Popular || got.SeatsFree != 5 {
			t.Fatalf("after one registration: popular %v seats free %d", got.Popular, got.SeatsFree)
		}
	})
}

func TestImportKeepsOperatorChanges(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l := &wod.Location{Name: "local", Students: 50}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		content := func(title string, capacity int, active bool) []*wod.Workshop {
			return []*wod.Workshop{
				{Slug: "WKSHP-A", Title: title, Duration: wod.Duration(time.Hour), Capacity: capacity, SeatMin: 1,
					SeatMax: 10, LocationID: l.ID, Active: active, Appliance: wod.ApplianceNone,
					SessionType: wod.SessionWorkshop, ContentDir: "/content/public"},
				{Slug: "WKSHP-B", Title: "B", Duration: wod.Duration(time.Hour), Capacity: 5, SeatMin: 11,
					SeatMax: 20, LocationID: l.ID, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop},
			}
		}
		res, err := db.ImportWorkshops(ctx, content("A one", 10, false))
		if err != nil || len(res) != 2 || res[0].Action != "created" || res[1].Action != "created" {
			t.Fatalf("first import: %+v %v", res, err)
		}
		res, err = db.ImportWorkshops(ctx, content("A one", 10, false))
		if err != nil || res[0].Action != "unchanged" {
			t.Fatalf("same import: %+v %v", res, err)
		}
		// The operator opens the workshop and lowers its capacity.
		on, four := true, 4
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-A", wod.WorkshopUpdate{Active: &on, Capacity: &four}); err != nil {
			t.Fatal(err)
		}
		// New content: a new title, the original capacity and active flag.
		res, err = db.ImportWorkshops(ctx, content("A two", 10, false))
		if err != nil || res[0].Action != "updated" || !slices.Equal(res[0].Changed, []string{"title"}) ||
			!slices.Equal(res[0].Kept, []string{"capacity", "active"}) {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		w, _ := db.FindWorkshop(ctx, "WKSHP-A")
		if w.Title != "A two" || w.Capacity != 4 || !w.Active {
			t.Fatalf("after re-import: title %q capacity %d active %v", w.Title, w.Capacity, w.Active)
		}
		// Clearing the overrides lets the content win again.
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-A", wod.WorkshopUpdate{ClearOverrides: true}); err != nil {
			t.Fatal(err)
		}
		db.ImportWorkshops(ctx, content("A two", 10, false))
		w, _ = db.FindWorkshop(ctx, "WKSHP-A")
		if w.Capacity != 10 || w.Active {
			t.Fatalf("after clearing overrides: capacity %d active %v", w.Capacity, w.Active)
		}

		// One bad workshop: nothing of the batch lands.
		batch := content("A three", 10, false)
		batch[1].SeatMax = 999
		if _, err := db.ImportWorkshops(ctx, batch); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad batch: %v", err)
		}
		w, _ = db.FindWorkshop(ctx, "WKSHP-A")
		if w.Title != "A two" {
			t.Fatalf("half-imported: title %q", w.Title)
		}
	})
}

func TestLocations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 5, 5)
		seats, n, err := db.FindSeats(ctx, wod.SeatFilter{})
		if err != nil || n != 10 || seats[0].Username != "student1" || seats[9].Number != 10 || seats[0].State != wod.SeatFree {
			t.Fatalf("seats: %d %v", n, err)
		}
		if err := db.CreateLocation(ctx, &wod.Location{Name: "local", Students: 3}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("duplicate location: %v", err)
		}
		if err := db.CreateLocation(ctx, &wod.Location{Name: "Bad Name", Students: 0}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad location: %v", err)
		}
		r, err := register(db, w.Slug, "a@example.com")
		if err != nil {
			t.Fatal(err)
		}
		// Grow: new free seats, the taken one untouched.
		twenty, base := 20, 1000
		l, err := db.UpdateLocation(ctx, "local", wod.LocationUpdate{Students: &twenty, BaseStudentID: &base})
		if err != nil || l.Students != 20 {
			t.Fatalf("grow: %v", err)
		}
		free := wod.SeatFree
		_, n, _ = db.FindSeats(ctx, wod.SeatFilter{State: &free})
		if n != 19 {
			t.Fatalf("free seats after growing = %d, want 19", n)
		}
		seats, _, _ = db.FindSeats(ctx, wod.SeatFilter{Page: wod.Page{Limit: 1}})
		if seats[0].StudentID != 1001 || seats[0].State != wod.SeatAssigned || *seats[0].RegistrationID != r.ID {
			t.Fatalf("seat 1: %+v", seats[0])
		}
		// Shrinking below a workshop's range is refused; above it works.
		three, eight := 3, 8
		if _, err := db.UpdateLocation(ctx, "local", wod.LocationUpdate{Students: &three}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("shrink below range: %v", err)
		}
		if _, err := db.UpdateLocation(ctx, "local", wod.LocationUpdate{Students: &eight}); err != nil {
			t.Fatal(err)
		}
		_, n, _ = db.FindSeats(ctx, wod.SeatFilter{})
		if n != 8 {
			t.Fatalf("seats after shrinking = %d, want 8", n)
		}
		if err := db.DeleteLocation(ctx, "local"); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("delete used location: %v", err)
		}
		other := &wod.Location{Name: "hub2.example.com", HubURL: "https://hub2.example.com", Students: 2}
		if err := db.CreateLocation(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteLocation(ctx, other.Name); err != nil {
			t.Fatal(err)
		}
		ls, _ := db.FindLocations(ctx)
		if len(ls) != 1 {
			t.Fatalf("locations = %d, want 1", len(ls))
		}
	})
}

func TestWorkshopLimits(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l := &wod.Location{Name: "local", Students: 50}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		content := func(limits wod.Limits) []*wod.Workshop {
			return []*wod.Workshop{{Slug: "WKSHP-L", Title: "L", Duration: wod.Duration(time.Hour), Capacity: 5,
				SeatMin: 1, SeatMax: 5, LocationID: l.ID, Appliance: wod.ApplianceNone,
				SessionType: wod.SessionWorkshop, Limits: limits}}
		}
		fromContent := wod.Limits{Memory: 2 << 30, CPUs: 1.5, Tasks: 512, Disk: 5 << 30}
		if _, err := db.ImportWorkshops(ctx, content(fromContent)); err != nil {
			t.Fatal(err)
		}
		w, err := db.FindWorkshop(ctx, "WKSHP-L")
		if err != nil || w.Limits != fromContent {
			t.Fatalf("round trip: %+v %v, want %+v", w.Limits, err, fromContent)
		}
		// The operator gives the workshop more memory and no disk quota of its own.
		byOperator := wod.Limits{Memory: 4 << 30, CPUs: 1.5, Tasks: 512}
		if w, err = db.UpdateWorkshop(ctx, "WKSHP-L", wod.WorkshopUpdate{Limits: &byOperator}); err != nil ||
			w.Limits != byOperator || !slices.Equal(w.Overrides, []string{"limits"}) {
			t.Fatalf("update: %+v overrides %v %v", w.Limits, w.Overrides, err)
		}
		res, err := db.ImportWorkshops(ctx, content(wod.Limits{Memory: 1 << 30}))
		if err != nil || !slices.Equal(res[0].Kept, []string{"limits"}) {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		if w, _ = db.FindWorkshop(ctx, "WKSHP-L"); w.Limits != byOperator {
			t.Fatalf("the re-import replaced the operator's limits: %+v", w.Limits)
		}
		tiny := wod.Limits{Memory: 1 << 20}
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-L", wod.WorkshopUpdate{Limits: &tiny}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("1M of memory: %v, want invalid", err)
		}
	})
}
