package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/cgroup"
)

// testCgroups returns a manager of this host's hierarchy whose groups live
// under a parent of the test's own, removed at the end.
func testCgroups(t *testing.T) *cgroup.Manager {
	t.Helper()
	h, err := cgroup.Detect()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	m := &cgroup.Manager{Hierarchy: h, Parent: fmt.Sprintf("wodtest-agent-%d", os.Getpid())}
	if err := m.Setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for n := testSeat; n <= testSeat+2; n++ {
			if err := m.Empty(ctx, wod.StudentUsername(n)); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		for _, dir := range m.Dirs() {
			syscall.Rmdir(dir)
		}
	})
	return m
}

// TestGuardCgroups: a student's process that started outside their group
// (as a login over ssh does) is moved in by the guard, which also makes
// the group of a held seat when it is missing (after a reboot), and
// reports the kernel's OOM kill in it.
func TestGuardCgroups(t *testing.T) {
	h := testHost(t)
	m := testCgroups(t)
	if !m.Hierarchy.Has(cgroup.Memory) {
		t.Skip("no memory controller")
	}
	ctx := context.Background()
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	// A hog that waits for a word before it eats, as the student, outside
	// any group of theirs.
	hog := exec.Command("/bin/sh", "-c", "read go; exec tail /dev/zero")
	hog.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
	in, err := hog.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hog.Process.Kill(); hog.Wait() })

	srv := &guardServer{held: []int{testSeat}}
	g := &Guard{Host: h, Server: srv, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Students: testSeat + 3,
		Cgroups: m, Limits: wod.Limits{Memory: 64 << 20, Tasks: 64}}
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.Exists(a.Name) || m.MemoryLimit(a.Name) != 64<<20 {
		t.Fatalf("the held seat's group was not made with the site's limits (exists %v, memory %d)",
			m.Exists(a.Name), m.MemoryLimit(a.Name))
	}
	if inside, err := m.Contains(a.Name, hog.Process.Pid); err != nil || !inside {
		t.Fatalf("the student's escaped process was not moved into their group: %v %v", inside, err)
	}

	io.WriteString(in, "go\n")
	var exit *exec.ExitError
	if err := hog.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the hog ended with %v, not killed at the limit", err)
	}
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	events := strings.Join(srv.events, "\n")
	if !strings.Contains(events, "limits.oom_kill: student9101: the kernel killed 1 process(es) at its memory limit of 64M") {
		t.Fatalf("events:\n%s", events)
	}
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if len(srv.events) != 1 {
		t.Fatalf("the kill was reported again:\n%s", strings.Join(srv.events, "\n"))
	}
}
