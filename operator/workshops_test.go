package operator_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestWorkshopActions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		title := "Git 101"

		// With no location, a new workshop has nowhere to go.
		_, err := ops.CreateWorkshop(ctx, boss, "WKSHP-GIT101", operator.WorkshopChange{
			WorkshopUpdate: wod.WorkshopUpdate{Title: &title}})
		if f := fieldError(err, "location"); f != "there are 0 locations; name one" {
			t.Fatalf("create with no location: %v", err)
		}
		hub1 := mustLocation(t, db, "hub1", 10)
		last := 4
		w, err := ops.CreateWorkshop(ctx, boss, "WKSHP-GIT101", operator.WorkshopChange{
			WorkshopUpdate: wod.WorkshopUpdate{Title: &title, SeatMax: &last}})
		if err != nil || w.LocationID != hub1.ID || w.Capacity != 4 || w.Title != title ||
			w.Duration != wod.Duration(4*3600e9) || w.SessionType != wod.SessionWorkshop {
			t.Fatalf("create: %+v %v", w, err)
		}

		hub2 := mustLocation(t, db, "hub2", 10)
		if _, err := ops.CreateWorkshop(ctx, boss, "WKSHP-TWO", operator.WorkshopChange{}); fieldError(err, "location") !=
			"there are 2 locations; name one" {
			t.Fatalf("create with two locations: %v", err)
		}
		nowhere := "nowhere"
		if _, err := ops.UpdateWorkshop(ctx, boss, "WKSHP-GIT101", operator.WorkshopChange{Location: &nowhere}); fieldError(err, "location") !=
			`no location is called "nowhere"` {
			t.Fatalf("move to an unknown location: %v", err)
		}
		name := hub2.Name
		active := true
		w, err = ops.UpdateWorkshop(ctx, boss, "WKSHP-GIT101", operator.WorkshopChange{
			WorkshopUpdate: wod.WorkshopUpdate{Active: &active}, Location: &name})
		if err != nil || w.LocationID != hub2.ID || !w.Active {
			t.Fatalf("update: %+v %v", w, err)
		}
		if _, err := ops.SetWorkshopActive(ctx, boss, "WKSHP-GIT101", false); err != nil {
			t.Fatal(err)
		}
		if _, err := ops.UpdateWorkshop(ctx, boss, "WKSHP-GIT101", operator.WorkshopChange{
			WorkshopUpdate: wod.WorkshopUpdate{ClearOverrides: true}}); err != nil {
			t.Fatal(err)
		}
		if err := ops.DeleteWorkshop(ctx, boss, "WKSHP-GIT101"); err != nil {
			t.Fatal(err)
		}
		if err := ops.DeleteWorkshop(ctx, boss, "WKSHP-GIT101"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("delete twice: %v", err)
		}

		want := map[string][]string{
			"workshop.create": {"workshop:WKSHP-GIT101 "},
			"workshop.update": {"workshop:WKSHP-GIT101 active,location", "workshop:WKSHP-GIT101 active",
				"workshop:WKSHP-GIT101 clear overrides"},
			"workshop.delete": {"workshop:WKSHP-GIT101 "},
		}
		for kind, events := range want {
			var got []string
			for _, e := range auditOf(t, db, kind) {
				if e.Actor != "boss" {
					t.Fatalf("%s by %q", kind, e.Actor)
				}
				got = append(got, e.Subject+" "+e.Detail)
			}
			if !slices.Equal(got, events) {
				t.Fatalf("audit of %s: %q, want %q", kind, got, events)
			}
		}
	})
}

// fieldError is the message of the field's problem in an EINVALID error.
func fieldError(err error, field string) string {
	var we *wod.Error
	if !errors.As(err, &we) || we.Code != wod.EINVALID {
		return ""
	}
	for _, f := range we.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}
