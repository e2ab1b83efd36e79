// Package cgroup confines each student's processes to a control group of
// their own, wod/studentN, with the memory, CPU and task limits of the
// workshop (or the site's defaults), and empties it when the seat is handed
// on. It speaks to the kernel's cgroup files directly, on the unified
// hierarchy (cgroup v2, Debian 12's default) and on v1 or hybrid ones
// (controllers mounted one by one under /sys/fs/cgroup/<controller>).
//
// The agent creates a student's group at create and removes it at lock; the
// managed hub's spawner puts each student's server in it before dropping to
// the student's uid (jupyterhub.Managed.CgroupDirs), so that the server and
// everything it starts are held from the first instruction; the process
// guard moves in whatever escaped (a login over ssh to localhost) and
// reports the kernel's OOM kills.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The controllers that enforce wod.Limits. cpu is CPU time (quota per
// period), pids counts processes and threads.
const (
	Memory = "memory"
	CPU    = "cpu"
	Pids   = "pids"
)

// controllers are the ones the limits need, in the order they are shown.
var controllers = []string{Memory, CPU, Pids}

// Hierarchy is where this host's cgroup controllers are.
type Hierarchy struct {
	// Version is 2 on the unified hierarchy, 1 where the controllers are
	// v1 hierarchies (v1 or hybrid hosts).
	Version int
	// Unified is the cgroup2 mount point (Version 2).
	Unified string
	// Mounts maps each available controller to its v1 mount point
	// (Version 1).
	Mounts map[string]string
	// Controllers lists the available ones of memory, cpu and pids.
	Controllers []string
}

// ErrNoCgroups says that the host has none of the controllers the limits
// need.
var ErrNoCgroups = errors.New("no cgroup hierarchy with the memory, cpu or pids controller is mounted")

// Detect finds the hierarchy from /proc/self/mountinfo.
func Detect() (*Hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	return detect(f, func(dir string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	})
}

// detect reads mountinfo; controllersOf reads a cgroup2 mount's
// cgroup.controllers. A controller is on v1 or v2, never both: when any of
// memory, cpu and pids is a v1 hierarchy, the host is v1 (a hybrid host
// keeps an empty cgroup2 beside them), else the limits use cgroup2.
func detect(mountinfo io.Reader, controllersOf func(dir string) ([]byte, error)) (*Hierarchy, error) {
	v1 := map[string]string{}
	var unified []string
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional…] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mountpoint := unescapeMount(fields[4])
		switch tail[0] {
		case "cgroup2":
			unified = append(unified, mountpoint)
		case "cgroup":
			for opt := range strings.SplitSeq(tail[2], ",") {
				if slices.Contains(controllers, opt) {
					if _, seen := v1[opt]; !seen { // a bind mount of the same hierarchy
						v1[opt] = mountpoint
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroups: reading mountinfo: %w", err)
	}
	if len(v1) > 0 {
		h := &Hierarchy{Version: 1, Mounts: v1}
		for _, c := range controllers {
			if v1[c] != "" {
				h.Controllers = append(h.Controllers, c)
			}
		}
		return h, nil
	}
	// The canonical place first: /sys/fs/cgroup on a unified host.
	slices.SortStableFunc(unified, func(a, b string) int {
		return boolRank(a == "/sys/fs/cgroup") - boolRank(b == "/sys/fs/cgroup")
	})
	for _, dir := range unified {
		data, err := controllersOf(dir)
		if err != nil {
			continue
		}
		h := &Hierarchy{Version: 2, Unified: dir}
		have := strings.Fields(string(data))
		for _, c := range controllers {
			if slices.Contains(have, c) {
				h.Controllers = append(h.Controllers, c)
			}
		}
		if len(h.Controllers) > 0 {
			return h, nil
		}
	}
	return nil, ErrNoCgroups
}

func boolRank(b bool) int {
	if b {
		return -1
	}
	return 0
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Has reports whether the controller is available.
func (h *Hierarchy) Has(controller string) bool { return slices.Contains(h.Controllers, controller) }

// Missing lists the controllers the limits need that the host lacks.
func (h *Hierarchy) Missing() []string {
	var out []string
	for _, c := range controllers {
		if !h.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// String describes the hierarchy for people (wod check, the agent's log).
func (h *Hierarchy) String() string {
	if h.Version == 2 {
		return fmt.Sprintf("cgroup v2 at %s (%s)", h.Unified, strings.Join(h.Controllers, ", "))
	}
	var parts []string
	for _, c := range h.Controllers {
		parts = append(parts, c+" at "+h.Mounts[c])
	}
	return "cgroup v1 (" + strings.Join(parts, ", ") + ")"
}

// dirs returns the directories that hold a group of the given path
// relative to the hierarchy root: one on v2, one per controller on v1.
func (h *Hierarchy) dirs(rel string) []string {
	if h.Version == 2 {
		return []string{filepath.Join(h.Unified, rel)}
	}
	out := make([]string, 0, len(h.Controllers))
	for _, c := range h.Controllers {
		out = append(out, filepath.Join(h.Mounts[c], rel))
	}
	return out
}
