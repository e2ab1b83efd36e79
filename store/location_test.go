package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestLocationHubURLNormalized: however a location is saved, its hub URL is
// stored without trailing slashes or surrounding space.
func TestLocationHubURLNormalized(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l := &wod.Location{Name: "hub1", HubURL: " https://hub.example.com/ ", Students: 2}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindLocation(ctx, "hub1")
		if err != nil || got.HubURL != "https://hub.example.com" || l.HubURL != got.HubURL {
			t.Fatalf("created: %+v (caller's %q) %v", got, l.HubURL, err)
		}
		slashed := "https://hub.example.com/jupyter//"
		if got, err = db.UpdateLocation(ctx, "hub1", wod.LocationUpdate{HubURL: &slashed}); err != nil ||
			got.HubURL != "https://hub.example.com/jupyter" {
			t.Fatalf("updated: %+v %v", got, err)
		}
		if got, err = db.FindLocation(ctx, "hub1"); err != nil || got.HubURL != "https://hub.example.com/jupyter" ||
			got.LoginURL() != "https://hub.example.com/jupyter/hub/login" {
			t.Fatalf("stored: %+v %v", got, err)
		}
	})
}

// TestMigrationNormalizesHubURLs: rows saved before the rule are brought
// into line by the migration that introduced it.
func TestMigrationNormalizesHubURLs(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.DSN(t, d), storetest.NewClock(storetest.T0))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.MigrateTo(ctx, 7); err != nil {
				t.Fatal(err)
			}
			for name, hub := range map[string]string{"a": "http://a.test/", "b": "http://b.test", "c": "", "d": "http://d.test/x//"} {
				if _, err := db.SQL().ExecContext(ctx, `INSERT INTO locations (name, hub_url, base_student_id, students,
					created_at, updated_at) VALUES ($1, $2, 0, 1, $3, $3)`, name, hub, storetest.T0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"a": "http://a.test", "b": "http://b.test", "c": "", "d": "http://d.test/x"}
			for name, hub := range want {
				if l, err := db.FindLocation(ctx, name); err != nil || l.HubURL != hub {
					t.Errorf("location %s: %+v %v, want %q", name, l, err, hub)
				}
			}
		})
	}
}

// TestDeleteLocationHoldingSeats: a location whose seats are still held (a
// participant's, or kept dirty for a reset) is not removed, even when no
// workshop names it any more: its accounts would be left to nobody.
func TestDeleteLocationHoldingSeats(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l := &wod.Location{Name: "hub9", HubURL: "http://hub9:8000", Students: 3}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		// As a reset-flagged workshop leaves a seat after it moved away.
		if _, err := db.SQL().ExecContext(ctx, `UPDATE seats SET state = 'dirty' WHERE location_id = $1 AND number = 2`, l.ID); err != nil {
			t.Fatal(err)
		}
		err := db.DeleteLocation(ctx, "hub9")
		if wod.ErrorCode(err) != wod.ECONFLICT || !strings.Contains(err.Error(), "holds 1 seats") {
			t.Fatalf("delete a location holding a seat: %v", err)
		}
		if _, err := db.SQL().ExecContext(ctx, `UPDATE seats SET state = 'free' WHERE location_id = $1`, l.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteLocation(ctx, "hub9"); err != nil {
			t.Fatalf("delete once the seats are free: %v", err)
		}
	})
}
