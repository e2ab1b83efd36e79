package engine_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// With the history kept (retention 0), the housekeeper still deletes the
// notebooks whose download time is over, and nothing else.
func TestHousekeeperNotebooksOnly(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "jo@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.eng.EndNow(ctx, r.ID, "participant")
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(10), Notebooks: []byte("PK zip")})
		w.tick()
		h := &engine.Housekeeper{Store: db, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			NotebookRetention: 7 * 24 * time.Hour}
		if p := h.PruneNow(ctx); p.Total() != 0 {
			t.Fatalf("pruned %+v within the retention", p)
		}
		clock.Advance(8 * 24 * time.Hour)
		if p := h.PruneNow(ctx); p.Notebooks != 1 || p.Total() != 1 {
			t.Fatalf("pruned %+v, want the notebooks only", p)
		}
		if _, err := db.FindNotebooks(ctx, r.ID, false); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("notebooks after their time: %v", err)
		}
		if es, _, err := db.FindEvents(ctx, wod.EventFilter{}); err != nil || len(es) == 0 {
			t.Fatalf("the history went with retention 0: %d events, %v", len(es), err)
		}
	})
}
