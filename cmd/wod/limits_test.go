package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/cgroup"
	"github.com/wod-dev/wod/jupyterhub"
)

// The limits test's seats: apart from the other tests' (9001-9003,
// 9101-, 9201, 9301-9303).
const limitsSeat = 9401

// hogCell runs memory hogs in a subprocess of the kernel, one after the
// other for a while, and prints how many the kernel killed: A's group is
// at its memory limit for as long as it runs.
const hogCell = `import subprocess, sys, time
hog = "import time\nx = [b'x' * (200 << 20)]\nwhile True:\n    x.append(b'x' * (20 << 20)); time.sleep(0.05)"
killed, end = 0, time.time() + 25
while time.time() < end:
    killed += subprocess.run([sys.executable, "-c", hog]).returncode == -9
print("killed", killed)`

// bombCell starts a fork bomb that outlives the cell.
const bombCell = `import subprocess
subprocess.Popen(["bash", "-c", "b() { b | b & }; b"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("lit")`

// TestStudentLimits gives a workshop limits in its wod.yml and, on a real
// wod up with its managed hub, lets participant A run a memory hog and a
// fork bomb in their notebook: the kernel kills the hog inside A's cgroup
// (and the audit trail says so), the bomb stops at A's task limit, and
// participant B's kernel executes a cell during both. A's session then
// ends with the bomb still going: nothing of A is left.
func TestStudentLimits(t *testing.T) {
	h, err := cgroup.Detect()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	if missing := h.Missing(); len(missing) > 0 {
		t.Skipf("this host lacks the %v controllers", missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t.Cleanup(func() { removeStudentCgroups(h, limitsSeat, limitsSeat+2) })
	p, hubURL, _ := startRealPlatform(t, limitsSeat, map[string]string{"ldap: false": "ldap: false\nmemory: 512M\ncpus: 0.5\ntasks: 200"})
	defer p.stop()
	groups := &cgroup.Manager{Hierarchy: h}

	type seat struct {
		id       int64
		name     string
		browser  *jupyterhub.Participant
		username string
	}
	var a, b seat
	for i, s := range []*seat{&a, &b} {
		reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101",
			"name": fmt.Sprintf("P%d", i), "email": fmt.Sprintf("p%d@example.com", i)})
		s.id = int64(reg["id"].(float64))
		r := p.waitState(s.id, wod.StateReady, 90*time.Second)
		s.username = r["username"].(string)
		s.browser = jupyterhub.NewParticipant(hubURL, s.username)
		if ok, err := s.browser.Login(ctx, r["password"].(string)); err != nil || !ok {
			t.Fatalf("%s logs in: %v %v", s.username, ok, err)
		}
		if err := s.browser.Open(ctx); err != nil {
			t.Fatal(err)
		}
	}
	uidA := e2eUIDBase + limitsSeat
	if a.username != wod.StudentUsername(limitsSeat) {
		t.Fatalf("A has seat %s", a.username)
	}

	// The hub started A's server inside A's group: each of A's processes
	// is there, in every controller, before the guard ever looked.
	pids := uidProcesses(uidA)
	if len(pids) == 0 {
		t.Fatal("A's server is not running")
	}
	for _, pid := range pids {
		if in, err := groups.Contains(a.username, pid); err != nil || !in {
			members, _ := groups.Members(a.username)
			t.Fatalf("A's process %d is not in A's cgroup in every controller (%v; members %v)", pid, err, members)
		}
	}
	if limit := groups.MemoryLimit(a.username); limit != 512<<20 {
		t.Fatalf("A's memory limit is %d, not the workshop's 512M", limit)
	}

	bRuns := func(during string) {
		t.Helper()
		if _, out, err := b.browser.Execute(ctx, "print(6*7)"); err != nil || strings.TrimSpace(out) != "42" {
			t.Fatalf("B's kernel during %s: %q %v", during, out, err)
		}
	}
	waitCounter := func(what string, read func(cgroup.Counters) uint64) {
		t.Helper()
		for {
			c, err := groups.Totals(a.username)
			if err != nil {
				t.Fatal(err)
			}
			if read(c) > 0 {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s never happened in A's group", what)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	// The memory hog: killed by the kernel inside A's group, while A's
	// kernel and server live on, and B works.
	hog := make(chan string, 1)
	go func() {
		_, out, err := a.browser.Execute(ctx, hogCell)
		if err != nil {
			out += err.Error()
		}
		hog <- out
	}()
	waitCounter("an OOM kill", func(c cgroup.Counters) uint64 { return c.OOMKills })
	bRuns("A's memory hog")
	if out := <-hog; !strings.Contains(out, "killed") || strings.Contains(out, "killed 0") {
		t.Fatalf("A's cell with the hogs printed %q", out)
	}

	// The fork bomb: it fills A's group up to the task limit and no
	// further, and B works.
	if _, out, err := a.browser.Execute(ctx, bombCell); err != nil || !strings.Contains(out, "lit") {
		t.Fatalf("lighting the bomb: %q %v", out, err)
	}
	waitCounter("a fork refused at the task limit", func(c cgroup.Counters) uint64 { return c.TasksMax })
	bRuns("A's fork bomb")

	// The guard reports both (it sweeps every minute).
	for _, kind := range []string{"limits.oom_kill", "limits.tasks_max"} {
		for {
			events := p.api("GET", "/api/v1/events?kind="+kind, nil)
			if strings.Contains(fmt.Sprint(events["items"]), a.username+": ") {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no %s event for %s: %v", kind, a.username, events)
			case <-time.After(time.Second):
			}
		}
	}

	// A's session ends with the bomb still going: nothing of A is left,
	// the group is gone, and B still works.
	p.api("POST", fmt.Sprintf("/api/v1/registrations/%d/end", a.id), nil)
	p.waitState(a.id, wod.StateDone, 120*time.Second)
	if pids := uidProcesses(uidA); len(pids) != 0 {
		t.Fatalf("processes of A survive the end of the session: %v", pids)
	}
	if groups.Exists(a.username) {
		// The guard remakes the group of a seat still held: not A's, ended.
		t.Fatalf("A's group survives the end of the session")
	}
	bRuns("A's cleanup")
}

// removeStudentCgroups removes the test seats' groups that a test left.
func removeStudentCgroups(h *cgroup.Hierarchy, first, last int) {
	m := &cgroup.Manager{Hierarchy: h}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := first; n <= last; n++ {
		if err := m.Empty(ctx, wod.StudentUsername(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	for _, dir := range m.Dirs() {
		syscall.Rmdir(dir) // only when no other student's group is left
	}
}
