package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/testenv"
)

func TestDetect(t *testing.T) {
	const hybrid = `25 1 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
32 25 0:30 / /sys/fs/cgroup/pids rw,nosuid shared:16 - cgroup cgroup rw,pids
33 25 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:17 - cgroup cgroup rw,net_cls,net_prio
`
	const unified = `29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
40 23 0:26 / /mnt/other\040cg rw shared:4 - cgroup2 cgroup2 rw
`
	const none = `22 1 0:21 / /proc rw - proc proc rw
`
	read := func(controllers string) func(string) ([]byte, error) {
		return func(dir string) ([]byte, error) {
			if dir == "/sys/fs/cgroup" || dir == "/mnt/other cg" {
				return []byte(controllers + "\n"), nil
			}
			return nil, os.ErrNotExist
		}
	}
	h, err := detect(strings.NewReader(hybrid), read("hugetlb"))
	if err != nil || h.Version != 1 || !slices.Equal(h.Controllers, []string{Memory, CPU, Pids}) ||
		h.Mounts[CPU] != "/sys/fs/cgroup/cpu,cpuacct" || h.Mounts[Memory] != "/sys/fs/cgroup/memory" {
		t.Fatalf("hybrid: %+v %v", h, err)
	}
	if s := h.String(); !strings.Contains(s, "v1") || !strings.Contains(s, "memory at /sys/fs/cgroup/memory") {
		t.Errorf("hybrid described as %q", s)
	}
	h, err = detect(strings.NewReader(unified), read("cpuset cpu io memory hugetlb pids rdma misc"))
	if err != nil || h.Version != 2 || h.Unified != "/sys/fs/cgroup" || !slices.Equal(h.Controllers, []string{Memory, CPU, Pids}) {
		t.Fatalf("unified: %+v %v", h, err)
	}
	h, err = detect(strings.NewReader(unified), read("memory pids"))
	if err != nil || !slices.Equal(h.Missing(), []string{CPU}) {
		t.Fatalf("unified without cpu: %+v %v", h, err)
	}
	if h, err := detect(strings.NewReader(none), read("")); !errors.Is(err, ErrNoCgroups) {
		t.Fatalf("no cgroups: %+v %v", h, err)
	}
	if h, err := detect(strings.NewReader(unified), read("hugetlb")); !errors.Is(err, ErrNoCgroups) {
		t.Fatalf("a cgroup2 without the controllers: %+v %v", h, err)
	}
	if got := unescapeMount(`/mnt/other\040cg`); got != "/mnt/other cg" {
		t.Errorf("unescape: %q", got)
	}
}

func TestLimitFilesV2(t *testing.T) {
	// The formats of the v2 files, checked without the controllers: this
	// host's memory, cpu and pids are v1 hierarchies, which the kernel
	// cannot also give to cgroup2.
	m := &Manager{Hierarchy: &Hierarchy{Version: 2, Unified: "/cg", Controllers: []string{Memory, CPU, Pids}}, Parent: "wod"}
	got := map[string]string{}
	for _, f := range m.limitFiles("student3", wod.Limits{Memory: 2 << 30, CPUs: 1.5, Tasks: 512}) {
		got[f.path] = f.value
	}
	want := map[string]string{"/cg/wod/student3/memory.max": "2147483648",
		"/cg/wod/student3/cpu.max": "150000 100000", "/cg/wod/student3/pids.max": "512"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("limits: %v, want %v", got, want)
	}
	clear(got)
	for _, f := range m.limitFiles("student3", wod.Limits{}) {
		got[f.path] = f.value
	}
	want = map[string]string{"/cg/wod/student3/memory.max": "max", "/cg/wod/student3/cpu.max": "max 100000",
		"/cg/wod/student3/pids.max": "max"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("no limits: %v, want %v", got, want)
	}
	if c := parseCounter("low 0\nhigh 3\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n", "oom_kill"); c != 2 {
		t.Errorf("oom_kill of memory.events = %d", c)
	}
	if c := parseCounter("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", "oom_kill"); c != 5 {
		t.Errorf("oom_kill of memory.oom_control = %d", c)
	}
}

func TestNames(t *testing.T) {
	m := &Manager{Hierarchy: &Hierarchy{Version: 2, Unified: t.TempDir()}}
	for _, bad := range []string{"", "..", "../etc", "a/b", "Student1", "student1\n", strings.Repeat("a", 40)} {
		if err := m.Apply(bad, wod.Limits{}); err == nil {
			t.Errorf("Apply(%q) accepted", bad)
		}
		if err := m.Place(bad, 1); err == nil {
			t.Errorf("Place(%q) accepted", bad)
		}
	}
}

// testManager returns a manager of this host's hierarchy whose groups live
// under a parent of the test's own, removed at the end.
func testManager(t *testing.T, h *Hierarchy) *Manager {
	t.Helper()
	testenv.Root(t, "cgroups are root's to create")
	m := &Manager{Hierarchy: h, Parent: fmt.Sprintf("wodtest-%d", os.Getpid())}
	if err := m.Setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, dir := range m.Dirs() {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.IsDir() {
					if err := m.Empty(ctx, e.Name()); err != nil {
						t.Errorf("cleanup: %v", err)
					}
				}
			}
			if err := syscall.Rmdir(dir); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return m
}

// startPaused starts a shell command that waits for a line on its input
// before it runs, so that the test can place it in a group first. It
// returns the process and a function that lets it go on.
func startPaused(t *testing.T, script string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read go; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// No pipes for the output (nil is /dev/null): a background child
	// holding one would keep Wait waiting.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, func() { in.Write([]byte("go\n")) }
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestHostHierarchy(t *testing.T) {
	h, err := Detect()
	if errors.Is(err, ErrNoCgroups) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this host: %s", h)
	m := testManager(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const name = "student9101"
	limits := wod.Limits{Memory: 64 << 20, CPUs: 0.5, Tasks: 40}
	if err := m.Apply(name, limits); err != nil {
		t.Fatal(err)
	}
	if !m.Exists(name) {
		t.Fatal("the group does not exist after Apply")
	}
	if h.Has(Memory) && m.MemoryLimit(name) != 64<<20 {
		t.Errorf("memory limit %d", m.MemoryLimit(name))
	}
	if h.Has(Pids) && readFile(t, filepath.Join(m.dir(Pids, name), "pids.max")) != "40" {
		t.Errorf("pids.max is not 40")
	}
	if h.Has(CPU) {
		if h.Version == 1 && readFile(t, filepath.Join(m.dir(CPU, name), "cpu.cfs_quota_us")) != "50000" {
			t.Errorf("cpu quota is not half the period")
		}
		if h.Version == 2 && readFile(t, filepath.Join(m.dir(CPU, name), "cpu.max")) != "50000 100000" {
			t.Errorf("cpu.max is not half the period")
		}
	}

	t.Run("fork bomb", func(t *testing.T) {
		if !h.Has(Pids) {
			t.Skip("no pids controller")
		}
		bomb, start := startPaused(t, "exec bash -c 'b() { b | b & }; b; sleep 60'")
		if err := m.Place(name, bomb.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if in, err := m.Contains(name, bomb.Process.Pid); err != nil || !in {
			t.Fatalf("the placed process is not in the group: %v %v", in, err)
		}
		start()
		// The bomb fills the group up to its limit, and no further.
		for {
			ev, err := m.Events(name)
			if err != nil {
				t.Fatal(err)
			}
			if ev.TasksMax > 0 {
				break
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				t.Fatal("the bomb never met the task limit")
			}
		}
		var tasks int
		if _, err := fmt.Sscan(readFile(t, filepath.Join(m.dir(Pids, name), "pids.current")), &tasks); err != nil || tasks > 40 {
			t.Errorf("%d tasks (%v), above the limit of 40", tasks, err)
		}
		if err := m.Empty(ctx, name); err != nil {
			t.Fatal(err)
		}
		if m.Exists(name) {
			t.Fatal("the group is still there after Empty")
		}
		if err := m.Apply(name, limits); err != nil {
			t.Fatal(err)
		}
		if ev, err := m.Events(name); err != nil || ev != (Counters{}) {
			t.Fatalf("a new group reports old events: %+v %v", ev, err)
		}
	})

	t.Run("memory hog", func(t *testing.T) {
		if !h.Has(Memory) {
			t.Skip("no memory controller")
		}
		hog, start := startPaused(t, "exec tail /dev/zero")
		if err := m.Place(name, hog.Process.Pid); err != nil {
			t.Fatal(err)
		}
		start()
		err := hog.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the hog ended with %v, not killed", err)
		}
		ev, err := m.Events(name)
		if err != nil || ev.OOMKills != 1 {
			t.Fatalf("events after the hog: %+v %v; want one OOM kill", ev, err)
		}
		if ev, _ := m.Events(name); ev.OOMKills != 0 {
			t.Fatalf("the same kill reported twice: %+v", ev)
		}
	})

	t.Run("lifting limits", func(t *testing.T) {
		if err := m.Apply(name, wod.Limits{}); err != nil {
			t.Fatal(err)
		}
		if h.Has(Memory) && m.MemoryLimit(name) != 0 {
			t.Errorf("memory limit %d after lifting", m.MemoryLimit(name))
		}
		if h.Has(Pids) && readFile(t, filepath.Join(m.dir(Pids, name), "pids.max")) != "max" {
			t.Errorf("pids.max is not max")
		}
	})

	t.Run("ensure", func(t *testing.T) {
		if created, err := m.Ensure(name, limits); err != nil || created {
			t.Fatalf("Ensure of an existing group: created %v, %v", created, err)
		}
		if h.Has(Memory) && m.MemoryLimit(name) != 0 {
			t.Errorf("Ensure changed the limits of an existing group")
		}
		if err := m.Empty(ctx, name); err != nil {
			t.Fatal(err)
		}
		if created, err := m.Ensure(name, limits); err != nil || !created {
			t.Fatalf("Ensure of a missing group: created %v, %v", created, err)
		}
		if h.Has(Memory) && m.MemoryLimit(name) != 64<<20 {
			t.Errorf("Ensure made a group without the limits")
		}
	})
}

// TestUnifiedHierarchy runs placement and kill on a cgroup2 mount of its
// own. On a hybrid host such as this test machine the v2 hierarchy has
// none of the controllers (the kernel gives each to one hierarchy, and
// memory, cpu and pids are v1 here), so the limits themselves are checked
// by TestLimitFilesV2 and, on a v2 host, by TestHostHierarchy.
func TestUnifiedHierarchy(t *testing.T) {
	testenv.Root(t, "mounting cgroup2 is root's")
	dir := t.TempDir()
	if err := syscall.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		t.Skipf("cannot mount cgroup2: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	controllers, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	h := &Hierarchy{Version: 2, Unified: dir}
	for _, c := range strings.Fields(string(controllers)) {
		if slices.Contains([]string{Memory, CPU, Pids}, c) {
			h.Controllers = append(h.Controllers, c)
		}
	}
	t.Logf("cgroup2 controllers here: %q", strings.TrimSpace(string(controllers)))
	m := testManager(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const name = "student9102"
	if err := m.Apply(name, wod.Limits{Memory: 64 << 20, Tasks: 40}); err != nil {
		t.Fatal(err)
	}
	if !m.Exists(name) {
		t.Fatal("no group")
	}
	var procs []*exec.Cmd
	for range 3 {
		p, start := startPaused(t, "sleep 60 & sleep 60")
		if err := m.Place(name, p.Process.Pid); err != nil {
			t.Fatal(err)
		}
		start()
		procs = append(procs, p)
	}
	if in, err := m.Contains(name, procs[0].Process.Pid); err != nil || !in {
		t.Fatalf("Contains: %v %v", in, err)
	}
	if in, _ := m.Contains(name, os.Getpid()); in {
		t.Fatal("the test itself is said to be in the group")
	}
	for {
		pids, err := m.Members(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= 6 { // three shells, each with its sleeps
			break
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			t.Fatalf("members: %v", pids)
		}
	}
	if err := m.Empty(ctx, name); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if err := p.Wait(); err == nil {
			t.Error("a member survived Empty")
		}
	}
	if m.Exists(name) {
		t.Fatal("the group survived Empty")
	}
	if err := m.Empty(ctx, name); err != nil {
		t.Fatalf("emptying a missing group: %v", err)
	}
}
