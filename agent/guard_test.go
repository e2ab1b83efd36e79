package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type guardServer struct {
	held   []int
	mu     sync.Mutex
	events []string
}

func (g *guardServer) HeldSeats(context.Context) ([]int, error) { return g.held, nil }
func (g *guardServer) Event(_ context.Context, kind, detail string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, kind+": "+detail)
	return nil
}

func TestGuard(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	a1, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := h.EnsureAccount(ctx, testSeat+1)
	if err != nil {
		t.Fatal(err)
	}
	// A miner under a familiar name, run by a student with a live seat.
	// Outside t.TempDir, whose 0700 parent the student could not traverse.
	dir, err := os.MkdirTemp("", "wod-guard")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	miner := filepath.Join(dir, "xmrig")
	sleepBin, _ := exec.LookPath("sleep")
	b, _ := os.ReadFile(sleepBin)
	os.WriteFile(miner, b, 0o755)
	run := func(a Account, bin string) *exec.Cmd {
		cmd := exec.Command(bin, "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	legit := run(a1, sleepBin)
	mined := run(a1, miner)
	orphan := run(a2, sleepBin) // student9102 has no live registration
	time.Sleep(100 * time.Millisecond)

	srv := &guardServer{held: []int{testSeat}}
	g := &Guard{Host: h, Server: srv, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Students: testSeat + 3}
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	mined.Wait()
	orphan.Wait()
	if syscall.Kill(legit.Process.Pid, 0) != nil {
		t.Fatal("the guard killed a legitimate process")
	}
	events := strings.Join(srv.events, "\n")
	if !strings.Contains(events, "xmrig") || !strings.Contains(events, "crypto-miner") ||
		!strings.Contains(events, "student9102") || !strings.Contains(events, "no live registration") {
		t.Fatalf("events:\n%s", events)
	}
	if len(srv.events) != 2 {
		t.Fatalf("%d kills reported, want 2:\n%s", len(srv.events), events)
	}
}
