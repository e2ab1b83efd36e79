package operator_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestContentWaitsForALocation: content given to a server with no
// location waits; bad content waiting keeps waiting with its reason; a
// location added through the service (the API, the pages) wakes the wait
// at once (its store poll is an hour here, so only the wake can import),
// and the content lands at the first location.
func TestContentWaitsForALocation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "WKSHP-Later"), 0o755); err != nil {
			t.Fatal(err)
		}
		yml := filepath.Join(dir, "WKSHP-Later", "wod.yml")
		if err := os.WriteFile(yml, []byte("name: Later\nrange: [1,50]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ops := catalogService(db, clock)
		ops.ContentWait = operator.NewContentWait([]string{dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ops.ContentWait.Every = time.Hour
		if waiting, _ := ops.ContentWait.Waiting(); !waiting {
			t.Fatal("not waiting before any location")
		}
		done := make(chan struct{})
		go func() { ops.ContentWait.Run(ctx, ops); close(done) }()

		// A location too small for the workshop's range: the import fails,
		// and the wait says why.
		if err := ops.CreateLocation(ctx, boss, &wod.Location{Name: "small", HubURL: "http://small.test", Students: 5}); err != nil {
			t.Fatal(err)
		}
		for {
			if _, why := ops.ContentWait.Waiting(); why != "" {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("the failed import left no reason")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Fixed content, then a location added: the wake imports it.
		if err := os.WriteFile(yml, []byte("name: Later\nrange: [1,3]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ops.CreateLocation(ctx, boss, &wod.Location{Name: "big", HubURL: "http://big.test", Students: 50}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("the wait did not import once a location was added")
		}
		if waiting, why := ops.ContentWait.Waiting(); waiting || why != "" {
			t.Fatalf("still waiting: %v %q", waiting, why)
		}
		w, err := db.FindWorkshop(ctx, "WKSHP-Later")
		if err != nil {
			t.Fatal(err)
		}
		small, _ := db.FindLocation(ctx, "small")
		if w.LocationID != small.ID {
			t.Fatalf("imported at location %d, want the first one (small, %d)", w.LocationID, small.ID)
		}
	})
}
