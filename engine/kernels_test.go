package engine_test

import (
	"slices"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestHeartbeatStoresKernels: the kernels an agent reports are the
// location's; an agent that does not report them (an older one) leaves the
// list as it was, and before any report the list is unknown.
func TestHeartbeatStoresKernels(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		kernels := func() []string {
			t.Helper()
			l, err := db.FindLocation(w.ctx, "local")
			if err != nil {
				t.Fatal(err)
			}
			return l.Kernels
		}
		if k := kernels(); k != nil {
			t.Fatalf("kernels before any report: %v, want unknown (nil)", k)
		}
		if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Health: "ok",
			Kernels: []string{"python3", "Bash", "ssh", "bash"}}); err != nil {
			t.Fatal(err)
		}
		if k := kernels(); !slices.Equal(k, []string{"bash", "python3", "ssh"}) {
			t.Fatalf("kernels %v", k)
		}
		if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Health: "old agent"}); err != nil {
			t.Fatal(err)
		}
		if k := kernels(); !slices.Equal(k, []string{"bash", "python3", "ssh"}) {
			t.Fatalf("kernels after a heartbeat without them: %v", k)
		}
		if err := w.eng.Heartbeat(w.ctx, w.loc.ID, wod.AgentHeartbeat{Kernels: []string{}}); err != nil {
			t.Fatal(err)
		}
		l, err := db.FindLocation(w.ctx, "local")
		if err != nil || l.Kernels == nil || len(l.Kernels) != 0 {
			t.Fatalf("no kernels at all: %#v %v", l.Kernels, err)
		}
		if has, known := l.HasKernel("bash"); has || !known {
			t.Errorf("HasKernel(bash) = %v, %v on a host with none", has, known)
		}
	})
}
