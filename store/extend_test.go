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

// A workshop's extend comes from content, an operator's value survives a
// re-import, and a value beyond the bound is refused.
func TestWorkshopExtendOverride(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l := &wod.Location{Name: "local", Students: 50}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		content := func(extend time.Duration) []*wod.Workshop {
			return []*wod.Workshop{{Slug: "WKSHP-E", Title: "E", Duration: wod.Duration(time.Hour), Capacity: 5,
				SeatMin: 1, SeatMax: 5, LocationID: l.ID, Appliance: wod.ApplianceNone,
				SessionType: wod.SessionWorkshop, Extend: wod.Duration(extend)}}
		}
		if _, err := db.ImportWorkshops(ctx, content(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-E"); err != nil || w.Extend != wod.Duration(30*time.Minute) {
			t.Fatalf("round trip: %v %v", w.Extend, err)
		}
		none := wod.Duration(0)
		if w, err := db.UpdateWorkshop(ctx, "WKSHP-E", wod.WorkshopUpdate{Extend: &none}); err != nil ||
			w.Extend != 0 || !slices.Equal(w.Overrides, []string{"extend"}) {
			t.Fatalf("update: %+v %v", w, err)
		}
		res, err := db.ImportWorkshops(ctx, content(time.Hour))
		if err != nil || !slices.Equal(res[0].Kept, []string{"extend"}) {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		if w, _ := db.FindWorkshop(ctx, "WKSHP-E"); w.Extend != 0 {
			t.Fatalf("the re-import replaced the operator's extend: %v", w.Extend)
		}
		long := wod.Duration(25 * time.Hour)
		if _, err := db.UpdateWorkshop(ctx, "WKSHP-E", wod.WorkshopUpdate{Extend: &long}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("25h: %v, want invalid", err)
		}
	})
}
