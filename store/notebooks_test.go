package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// The notebooks a participant left arrive with the step that ends the
// registration, in its transaction, and go when their time is up.
func TestNotebooks(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 5, 1, 5, 5)
		end := func(email string, zip []byte) *wod.Registration {
			t.Helper()
			r, err := register(db, w.Slug, email)
			if err != nil {
				t.Fatal(err)
			}
			free := wod.SeatFree
			if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
				To: wod.StateDone, Seat: &free, Notebooks: zip}); err != nil {
				t.Fatal(err)
			}
			return r
		}
		zip := bytes.Repeat([]byte("PK\x03\x04 notebooks "), 1000)
		ann := end("ann@example.com", zip)
		bob := end("bob@example.com", nil)

		n, err := db.FindNotebooks(ctx, ann.ID, false)
		if err != nil || n.Size != len(zip) || n.Data != nil || !n.KeptAt.Equal(clock.Now()) {
			t.Fatalf("notebooks without data: %+v %v", n, err)
		}
		if n, err := db.FindNotebooks(ctx, ann.ID, true); err != nil || !bytes.Equal(n.Data, zip) {
			t.Fatalf("notebooks with data: %d bytes, %v", len(n.Data), err)
		}
		if _, err := db.FindNotebooks(ctx, bob.ID, true); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("none kept: %v", err)
		}

		clock.Advance(2 * time.Hour)
		cal := end("cal@example.com", []byte("PK later"))
		if n, err := db.PruneNotebooks(ctx, clock.Now().Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if _, err := db.FindNotebooks(ctx, ann.ID, false); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("pruned notebooks still there: %v", err)
		}
		if _, err := db.FindNotebooks(ctx, cal.ID, false); err != nil {
			t.Fatalf("recent notebooks pruned: %v", err)
		}
	})
}
