package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// A workshop's dates bound its bookings, in the booking transaction: none
// before it opens, none from its closing time on; sessions booked in
// between are not touched by closing. The catalogue filter drops a closed
// workshop, and the dates are operator overrides that survive re-imports.
func TestWorkshopDatesBooking(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, w := fixture(t, db, 10, 1, 5, 5)
		opens := clock.Now().Add(time.Hour)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Opens: &opens}); err != nil {
			t.Fatal(err)
		}
		for _, book := range []func() (*wod.Registration, error){
			func() (*wod.Registration, error) { return register(db, w.Slug, "early@example.com") },
			func() (*wod.Registration, error) { return waitFor(db, w.Slug, "early@example.com") },
		} {
			_, err := book()
			if wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(err.Error(),
				"workshop WKSHP-API101 opens for registration at "+opens.UTC().Format(time.RFC3339)) {
				t.Fatalf("booking before the opening: %v", err)
			}
		}
		clock.Advance(time.Hour)
		a, err := register(db, w.Slug, "a@example.com")
		if err != nil || a.State != wod.StatePending {
			t.Fatalf("booking at the opening: %+v %v", a, err)
		}
		closes := clock.Now().Add(30 * time.Minute)
		got, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &closes})
		if err != nil || !got.Opens.Equal(opens) || !got.Closes.Equal(closes) ||
			!slices.Equal(got.Overrides, []string{"closes", "opens"}) {
			t.Fatalf("dates: %+v %v", got, err)
		}
		now := clock.Now()
		if ws, _, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{OfferedAt: &now}); len(ws) != 1 {
			t.Fatalf("an open workshop left the catalogue: %v", ws)
		}

		clock.Advance(30 * time.Minute) // the closing time itself is closed
		_, err = register(db, w.Slug, "late@example.com")
		if wod.ErrorCode(err) != wod.EINVALID || !strings.Contains(err.Error(),
			"workshop WKSHP-API101 closed for registration at "+closes.UTC().Format(time.RFC3339)) {
			t.Fatalf("booking at the closing time: %v", err)
		}
		if _, err := waitFor(db, w.Slug, "late@example.com"); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("joining the line of a closed workshop: %v", err)
		}
		if r, _ := db.FindRegistration(ctx, a.ID); r.State != wod.StatePending || !r.SeatHeld {
			t.Fatalf("a session booked before closing: %+v", r)
		}
		now = clock.Now()
		if ws, _, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{OfferedAt: &now}); len(ws) != 0 {
			t.Fatalf("a closed workshop is still offered: %v", ws)
		}
		if ws, _, _ := db.FindWorkshops(ctx, wod.WorkshopFilter{}); len(ws) != 1 {
			t.Fatalf("operators no longer see a closed workshop: %v", ws)
		}

		// Closing before opening is refused; a zero date removes one.
		early := opens.Add(-time.Minute)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &early}); wod.ErrorCode(err) != wod.EINVALID ||
			!strings.Contains(err.Error(), "closes: must be after opens") {
			t.Fatalf("closing before opening: %v", err)
		}
		var none time.Time
		if got, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &none}); err != nil || !got.Closes.IsZero() {
			t.Fatalf("removing the closing time: %+v %v", got, err)
		}
		if _, err := register(db, w.Slug, "late@example.com"); err != nil {
			t.Fatalf("booking once the closing time is removed: %v", err)
		}

		// A re-import keeps the operator's dates and takes the content's
		// for a workshop without overrides.
		content := func(slug string) *wod.Workshop {
			return &wod.Workshop{Slug: slug, Title: "T", Duration: wod.Duration(time.Hour), Capacity: 5, SeatMin: 1,
				SeatMax: 5, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop,
				Opens: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), Closes: time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)}
		}
		res, err := db.ImportWorkshops(ctx, []*wod.Workshop{content(w.Slug), content("WKSHP-NEW")})
		if err != nil || !slices.Equal(res[0].Kept, []string{"opens", "closes"}) {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		if got, _ := db.FindWorkshop(ctx, w.Slug); !got.Opens.Equal(opens) || !got.Closes.IsZero() {
			t.Fatalf("the re-import replaced the operator's dates: %v %v", got.Opens, got.Closes)
		}
		if got, _ := db.FindWorkshop(ctx, "WKSHP-NEW"); !got.Opens.Equal(content("").Opens) || !got.Closes.Equal(content("").Closes) {
			t.Fatalf("imported dates: %v %v", got.Opens, got.Closes)
		}
		res, err = db.ImportWorkshops(ctx, []*wod.Workshop{content("WKSHP-NEW")})
		if err != nil || res[0].Action != "unchanged" {
			t.Fatalf("importing the same dates again: %+v %v", res, err)
		}
	})
}

// A wait ends at the workshop's closing time at the latest: the end of the
// wait is moved there when one joins and when an operator sets a closing
// time, and a seat that frees after closing goes to nobody in line.
func TestWorkshopDatesLine(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 3, 3, 5) // one seat
		a, err := register(db, w.Slug, "a@example.com")
		if err != nil {
			t.Fatal(err)
		}
		closes := clock.Now().Add(30 * time.Minute)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &closes}); err != nil {
			t.Fatal(err)
		}
		b, err := waitFor(db, w.Slug, "b@example.com") // its plan ends the wait in 2 h
		if err != nil || b.State != wod.StateWaiting {
			t.Fatalf("joining the line: %+v %v", b, err)
		}
		if j := jobsOf(t, db, b.ID)[wod.JobWaitExpire]; !j.RunAt.Equal(closes) {
			t.Fatalf("the wait ends at %v, want the closing time %v", j.RunAt, closes)
		}
		// Without a closing time, the plan's own end stands.
		var none time.Time
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &none}); err != nil {
			t.Fatal(err)
		}
		c, err := waitFor(db, w.Slug, "c@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if j := jobsOf(t, db, c.ID)[wod.JobWaitExpire]; !j.RunAt.Equal(t0.Add(2 * time.Hour)) {
			t.Fatalf("the wait without a closing time ends at %v", j.RunAt)
		}
		// An operator's closing time brings every later end of wait to it.
		closes = clock.Now().Add(10 * time.Minute)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Closes: &closes}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*wod.Registration{b, c} {
			if j := jobsOf(t, db, r.ID)[wod.JobWaitExpire]; !j.RunAt.Equal(closes) || j.State != wod.JobQueued {
				t.Fatalf("registration %d's wait ends at %v (%s), want %v", r.ID, j.RunAt, j.State, closes)
			}
		}
		// After closing, the freed seat goes to nobody: the waits end instead.
		clock.Advance(10 * time.Minute)
		endSession(t, db, a.ID)
		for _, r := range []*wod.Registration{b, c} {
			if got, _ := db.FindRegistration(ctx, r.ID); got.State != wod.StateWaiting || got.SeatHeld {
				t.Fatalf("a waiter of a closed workshop: %+v", got)
			}
		}
		if got, _ := db.FindWorkshop(ctx, w.Slug); got.SeatsFree != 1 {
			t.Fatalf("the freed seat: %d free", got.SeatsFree)
		}
	})
}

// A workshop yet to open keeps its warm pool (ready when the doors open);
// one past its closing time gives its warm seats back.
func TestWorkshopDatesWarmPool(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 10, 10)
		two := wod.WarmPool(2)
		opens, closes := clock.Now().Add(time.Hour), clock.Now().Add(2*time.Hour)
		if _, err := db.UpdateWorkshop(ctx, w.Slug, wod.WorkshopUpdate{Warm: &two, Opens: &opens, Closes: &closes}); err != nil {
			t.Fatal(err)
		}
		if n := warmUp(t, db, w); n != 2 {
			t.Fatalf("warm seats before the opening: %d, want 2", n)
		}
		clock.Advance(2 * time.Hour)
		if p, n, err := db.KeepWarm(ctx, w.ID, w.LocationID); err != nil || n != 0 || p.Target != 0 || p.Warm != 0 {
			t.Fatalf("the pool after closing: %+v %d %v", p, n, err)
		}
	})
}
