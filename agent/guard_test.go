package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
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
	mustRun(t, legit, "sleep")
	mustRun(t, mined, "xmrig")
	mustRun(t, orphan, "sleep")

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

// startProcessAs starts prog as the account with the command line argv, killed
// when the test ends. The program is copied outside t.TempDir (whose 0700
// parent the student could not traverse) under name, which becomes the
// process's name.
func startProcessAs(t *testing.T, a Account, dir, prog, name string, argv ...string) *exec.Cmd {
	t.Helper()
	src, err := exec.LookPath(prog)
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(dir, name)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: bin, Args: argv, Dir: "/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func guardDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wod-guard")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

// exited reports when cmd's process has ended.
func exited(cmd *exec.Cmd) <-chan struct{} {
	done := make(chan struct{})
	go func() { cmd.Process.Wait(); close(done) }()
	return done
}

// A student's busy loop is killed after HogFor of sweeps; the same loop
// under an allowed name (a compiler's) is seen hot and spared.
func TestGuardKillsCPUHogs(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	dir := guardDir(t)
	loop := []string{"bash", "-c", "while :; do :; done"}
	hog := startProcessAs(t, a, dir, "bash", "bash", loop...)
	compiler := startProcessAs(t, a, dir, "bash", "cc1plus", loop...)
	hogDone := exited(hog)

	srv := &guardServer{held: []int{testSeat}}
	// Two loops share this machine's cores with other work (CI runs every
	// package at once, with hubs): a twentieth of
	// a core is hot enough to tell a loop from an idle process.
	g := &Guard{Host: h, Server: srv, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Students: testSeat + 3,
		HogAllow: []string{"gcc", "cc1plus"}, HogShare: 0.05, HogFor: time.Second}
	// Sweep until the hog is killed and the spared loop has been judged
	// hot at some sweep: on a loaded machine a loop gets its share only
	// now and then, so "hot" is what some sweep saw, not the last one.
	deadline := time.After(60 * time.Second)
	killed, sparedHot := false, false
	for !killed || !sparedHot {
		if err := g.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if s := g.samples[compiler.Process.Pid]; s != nil && s.hotFor >= g.HogFor {
			sparedHot = true
		}
		select {
		case <-hogDone:
			killed = true
		default:
		}
		if killed && sparedHot {
			break
		}
		select {
		case <-hogDone:
			killed = true
		case <-deadline:
			t.Fatalf("after 60 s: busy loop killed %v, allowed loop seen hot %v; events: %q", killed, sparedHot, srv.events)
		case <-time.After(300 * time.Millisecond):
		}
	}
	if syscall.Kill(compiler.Process.Pid, 0) != nil {
		t.Fatal("the guard killed a process on the allow-list")
	}
	events := strings.Join(srv.events, "\n")
	if len(srv.events) != 1 || !strings.Contains(events, "killed bash") || !strings.Contains(events, "5% of a CPU for 1s") {
		t.Fatalf("events:\n%s", events)
	}
}

// A kernel older than MaxKernelAge is killed; another process of the same
// age is not.
func TestGuardKillsOldKernels(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	dir := guardDir(t)
	// sleep, with the command line of a kernel (argv[0] is free).
	kernel := startProcessAs(t, a, dir, "sleep", "python3", "python3 -m ipykernel_launcher -f /tmp/kernel-1.json", "300")
	other := startProcessAs(t, a, dir, "sleep", "sleep", "sleep", "300")
	kernelDone := exited(kernel)

	srv := &guardServer{held: []int{testSeat}}
	g := &Guard{Host: h, Server: srv, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Students: testSeat + 3,
		MaxKernelAge: time.Hour}
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if len(srv.events) != 0 {
		t.Fatalf("a young kernel was killed: %q", srv.events)
	}
	g.MaxKernelAge = time.Second
	time.Sleep(1500 * time.Millisecond) // both older than a second
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kernelDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("the old kernel lives; events: %q", srv.events)
	}
	if syscall.Kill(other.Process.Pid, 0) != nil {
		t.Fatal("the guard killed a process that is not a kernel")
	}
	if len(srv.events) != 1 || !strings.Contains(srv.events[0], "kernel older than 1s") {
		t.Fatalf("events: %q", srv.events)
	}
}

// TestNotOurs: a process whose uid falls in the guarded range but is
// another account's (another location's student on the same machine, a
// system account) is not this host's student.
func TestNotOurs(t *testing.T) {
	seen := map[int]bool{}
	if !notOurs(seen, 0, 1, DefaultStudentRoot) {
		t.Fatal("root counts as student1")
	}
	if notOurs(seen, 1<<30, 5, DefaultStudentRoot) {
		t.Fatal("a uid with no account is spared")
	}
	// The same student of another wod on the machine (same uid base,
	// another student root) is not ours.
	if os.Geteuid() != 0 {
		return
	}
	const n, uid = 9910, 61910
	root := t.TempDir()
	exec.Command("userdel", wod.StudentUsername(n)).Run()
	if out, err := exec.Command("useradd", "-u", strconv.Itoa(uid), "-M", "-d", filepath.Join(root, wod.StudentUsername(n)),
		wod.StudentUsername(n)).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", wod.StudentUsername(n)).Run() })
	if notOurs(map[int]bool{}, uid, n, root) {
		t.Error("this root's student counts as another's")
	}
	if !notOurs(map[int]bool{}, uid, n, filepath.Join(root, "other")) {
		t.Error("another root's student counts as this one's")
	}
}
