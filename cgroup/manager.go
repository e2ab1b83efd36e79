package cgroup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wod-dev/wod"
)

// DefaultParent is the group that holds the students' groups.
const DefaultParent = "wod"

// namePattern is what a group may be called: a Unix user name, never a
// path (the hub's spawner joins it to the directories as well).
var namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// Manager keeps one group per student under Parent. Its files belong to
// root: a student can neither raise a limit nor move a process out.
type Manager struct {
	Hierarchy *Hierarchy
	// Parent is the path of the students' groups below the hierarchy's
	// root (default "wod"; tests use their own).
	Parent string

	mu sync.Mutex
	// seen holds, per group, the last value of each event counter (OOM
	// kills, forks refused at the task limit) that Events reported.
	seen map[string]Counters
}

// Counters are the events the kernel counts in a group.
type Counters struct {
	// OOMKills are processes the kernel killed at the memory limit.
	OOMKills uint64
	// TasksMax are forks and clones refused at the task limit.
	TasksMax uint64
}

func (m *Manager) parent() string {
	if m.Parent == "" {
		return DefaultParent
	}
	return m.Parent
}

func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("cgroups: %q cannot name a student's group", name)
	}
	return nil
}

// Dirs are the directories that hold the students' groups, one per v1
// controller or the one v2 directory: a student's group is <dir>/<name> in
// each, and a process joins it by writing its pid to every
// <dir>/<name>/cgroup.procs.
func (m *Manager) Dirs() []string { return m.Hierarchy.dirs(m.parent()) }

// groupDirs are the directories of one student's group.
func (m *Manager) groupDirs(name string) []string {
	return m.Hierarchy.dirs(filepath.Join(m.parent(), name))
}

// dir is the directory that holds the controller's files of the group.
func (m *Manager) dir(controller, name string) string {
	if m.Hierarchy.Version == 2 {
		return filepath.Join(m.Hierarchy.Unified, m.parent(), name)
	}
	return filepath.Join(m.Hierarchy.Mounts[controller], m.parent(), name)
}

// Setup creates the parent group and, on v2, lets its children use the
// controllers (cgroup.subtree_control of the root and of the parent).
func (m *Manager) Setup() error {
	for _, dir := range m.Dirs() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroups: %w", err)
		}
	}
	if m.Hierarchy.Version != 2 || len(m.Hierarchy.Controllers) == 0 {
		return nil
	}
	var enable []string
	for _, c := range m.Hierarchy.Controllers {
		enable = append(enable, "+"+c)
	}
	// Each level from the root down to the parent passes them on.
	dir := m.Hierarchy.Unified
	for _, part := range append([]string{""}, strings.Split(m.parent(), "/")...) {
		dir = filepath.Join(dir, part)
		if err := write(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(enable, " ")); err != nil {
			return fmt.Errorf("cgroups: enabling %s for the students' groups: %w", strings.Join(m.Hierarchy.Controllers, ", "), err)
		}
	}
	return nil
}

// Apply creates the student's group if needed and sets its limits (0: no
// limit). Limits of a controller the host lacks are not enforced (wod
// check says so).
func (m *Manager) Apply(name string, l wod.Limits) error {
	_, err := m.apply(name, l, false)
	return err
}

// Ensure creates the student's group with the limits when it does not
// exist (after a reboot) and leaves an existing one as it is; it reports
// whether it created it.
func (m *Manager) Ensure(name string, l wod.Limits) (bool, error) {
	return m.apply(name, l, true)
}

// apply holds the lock throughout, so that an Ensure racing an Apply can
// never write its limits over the ones Apply just set.
func (m *Manager) apply(name string, l wod.Limits, onlyNew bool) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	created := false
	for _, dir := range m.groupDirs(name) {
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			created = true
		case errors.Is(err, fs.ErrExist):
		default:
			return false, fmt.Errorf("cgroups: creating the group of %s: %w", name, err)
		}
	}
	if onlyNew && !created {
		return false, nil
	}
	for _, f := range m.limitFiles(name, l) {
		if err := write(f.path, f.value); err != nil {
			return created, fmt.Errorf("cgroups: limits of %s: %w", name, err)
		}
	}
	// Events from before (a group that outlived its last holder) are
	// not this holder's.
	c, err := m.counters(name)
	if err != nil {
		return created, err
	}
	if created {
		c = Counters{}
	}
	if m.seen == nil {
		m.seen = map[string]Counters{}
	}
	m.seen[name] = c
	return created, nil
}

// Exists reports whether the student's group is there (in every
// controller's hierarchy).
func (m *Manager) Exists(name string) bool {
	if checkName(name) != nil {
		return false
	}
	for _, dir := range m.groupDirs(name) {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
			return false
		}
	}
	return true
}

type limitFile struct{ path, value string }

// cfsPeriod is the CPU accounting period in microseconds (the kernel's
// default): a quota of cpus × period per period.
const cfsPeriod = 100000

// limitFiles are the files that set the limits, in the order to write
// them.
func (m *Manager) limitFiles(name string, l wod.Limits) []limitFile {
	h := m.Hierarchy
	var out []limitFile
	add := func(controller, file, value string) {
		out = append(out, limitFile{filepath.Join(m.dir(controller, name), file), value})
	}
	quota := int64(-1)
	if l.CPUs > 0 {
		quota = int64(l.CPUs * cfsPeriod)
	}
	tasks := "max"
	if l.Tasks > 0 {
		tasks = strconv.Itoa(l.Tasks)
	}
	if h.Version == 2 {
		if h.Has(Memory) {
			mem, swap := "max", "max"
			if l.Memory > 0 {
				// No swap either: beyond the limit is the OOM killer, not a
				// host that crawls.
				mem, swap = strconv.FormatInt(l.Memory, 10), "0"
			}
			add(Memory, "memory.max", mem)
			if m.present(Memory, name, "memory.swap.max") {
				add(Memory, "memory.swap.max", swap)
			}
		}
		if h.Has(CPU) {
			max := "max"
			if quota > 0 {
				max = strconv.FormatInt(quota, 10)
			}
			add(CPU, "cpu.max", max+" "+strconv.Itoa(cfsPeriod))
		}
		if h.Has(Pids) {
			add(Pids, "pids.max", tasks)
		}
		return out
	}
	if h.Has(Memory) {
		mem := "-1"
		if l.Memory > 0 {
			mem = strconv.FormatInt(l.Memory, 10)
		}
		// memsw (memory + swap) must stay at or above the memory limit
		// at every step: lift it, set the limit, then bring it level.
		swap := m.present(Memory, name, "memory.memsw.limit_in_bytes")
		if swap {
			add(Memory, "memory.memsw.limit_in_bytes", "-1")
		}
		add(Memory, "memory.limit_in_bytes", mem)
		if swap {
			add(Memory, "memory.memsw.limit_in_bytes", mem)
		}
	}
	if h.Has(CPU) {
		add(CPU, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod))
		add(CPU, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
	}
	if h.Has(Pids) {
		add(Pids, "pids.max", tasks)
	}
	return out
}

// present reports whether the group has the file (swap accounting is a
// kernel option).
func (m *Manager) present(controller, name, file string) bool {
	_, err := os.Stat(filepath.Join(m.dir(controller, name), file))
	return err == nil
}

// Place moves the process into the student's group, in every hierarchy.
func (m *Manager) Place(name string, pid int) error {
	if err := checkName(name); err != nil {
		return err
	}
	for _, dir := range m.groupDirs(name) {
		if err := write(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroups: moving pid %d into the group of %s: %w", pid, name, err)
		}
	}
	return nil
}

// Contains reports whether the process is in the student's group in every
// hierarchy; false with no error when it has exited.
func (m *Manager) Contains(name string, pid int) (bool, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cgroups: %w", err)
	}
	want := "/" + filepath.Join(m.parent(), name)
	paths := map[string]string{} // controller ("" on v2) → path
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			paths[""] = parts[2]
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	if m.Hierarchy.Version == 2 {
		return paths[""] == want, nil
	}
	for _, c := range m.Hierarchy.Controllers {
		if paths[c] != want {
			return false, nil
		}
	}
	return true, nil
}

// Members lists the processes in the student's group; none when the group
// does not exist.
func (m *Manager) Members(name string) ([]int, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var pids []int
	for _, dir := range m.groupDirs(name) {
		f, err := os.Open(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("cgroups: %w", err)
		}
	}
	return pids, nil
}

// Empty kills every process of the student's group and removes the group:
// nothing of the last holder runs on, and a server the hub would start for
// the seat before the next create fails (no group to join) rather than run
// without limits. A missing group is already empty.
func (m *Manager) Empty(ctx context.Context, name string) error {
	if err := m.kill(ctx, name); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.seen, name)
	m.mu.Unlock()
	for _, dir := range m.groupDirs(name) {
		// A killed process leaves the group a moment after it dies.
		for {
			err := syscall.Rmdir(dir)
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) {
				return fmt.Errorf("cgroups: removing the group of %s: %w", name, err)
			}
			if err := sleep(ctx, 10*time.Millisecond); err != nil {
				return fmt.Errorf("cgroups: the group of %s stays busy: %w", name, err)
			}
		}
	}
	return nil
}

// kill ends every process of the group, forks included: cgroup.kill on v2
// (one atomic stroke), else SIGKILL to each member until none is left. A
// killed process cannot fork; its children forked meanwhile are members
// too, and the task limit bounds how many there can be.
func (m *Manager) kill(ctx context.Context, name string) error {
	if m.Hierarchy.Version == 2 {
		err := write(filepath.Join(m.dir(Pids, name), "cgroup.kill"), "1")
		if errors.Is(err, fs.ErrNotExist) && !m.Exists(name) {
			return nil
		}
		// A kernel before 5.14 has no cgroup.kill: the loop below does it.
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cgroups: killing the group of %s: %w", name, err)
		}
	}
	for {
		pids, err := m.Members(name)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("cgroups: %d processes of %s survive: %w", len(pids), name, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Totals reads the group's event counters since it was made; zero where
// the host lacks the controller or the group does not exist.
func (m *Manager) Totals(name string) (Counters, error) {
	if err := checkName(name); err != nil {
		return Counters{}, err
	}
	return m.counters(name)
}

func (m *Manager) counters(name string) (Counters, error) {
	var c Counters
	var err error
	if m.Hierarchy.Has(Memory) {
		file := "memory.events" // v2: "oom_kill N" among others
		if m.Hierarchy.Version == 1 {
			file = "memory.oom_control" // v1: the same line since Linux 4.13
		}
		if c.OOMKills, err = readCounter(filepath.Join(m.dir(Memory, name), file), "oom_kill"); err != nil {
			return c, err
		}
	}
	if m.Hierarchy.Has(Pids) {
		if c.TasksMax, err = readCounter(filepath.Join(m.dir(Pids, name), "pids.events"), "max"); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Events returns what happened in the student's group since the last call
// (or since Apply): the first call after the agent started only takes the
// count, so that a restart does not report old events again.
func (m *Manager) Events(name string) (Counters, error) {
	if err := checkName(name); err != nil {
		return Counters{}, err
	}
	now, err := m.counters(name)
	if err != nil {
		return Counters{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]Counters{}
	}
	before, known := m.seen[name]
	m.seen[name] = now
	if !known {
		return Counters{}, nil
	}
	return Counters{OOMKills: since(now.OOMKills, before.OOMKills), TasksMax: since(now.TasksMax, before.TasksMax)}, nil
}

// since is the increase of a counter; a smaller one is a new group.
func since(now, before uint64) uint64 {
	if now < before {
		return now
	}
	return now - before
}

// MemoryLimit reads the group's memory limit in bytes; 0 when unlimited
// or unknown.
func (m *Manager) MemoryLimit(name string) int64 {
	file := "memory.max"
	if m.Hierarchy.Version == 1 {
		file = "memory.limit_in_bytes"
	}
	data, err := os.ReadFile(filepath.Join(m.dir(Memory, name), file))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || n >= 1<<62 { // v1 writes "unlimited" as a huge number
		return 0
	}
	return n
}

// readCounter reads "key N" from a flat-keyed cgroup file; 0 when the
// file does not exist.
func readCounter(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	return parseCounter(string(data), key), nil
}

func parseCounter(text, key string) uint64 {
	for line := range strings.SplitSeq(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// write sets a cgroup file; the kernel takes each write as one value.
func write(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return f.Close()
}
