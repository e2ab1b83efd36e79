package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/cgroup"
)

// Guard watches the students' processes on the host, every minute, and
// kills what does not belong: known crypto-miners, processes of a student
// with no live registration, kernels older than a maximum age, and CPU hogs
// (≥ 98 % of a core for 5 minutes, by default) outside an allow-list. Every kill is
// reported to the server, where operators see it.
type Guard struct {
	Host   *Host
	Server GuardServer
	Logger *slog.Logger
	// Students is how many accounts the host has (uids base+1..base+N).
	Students int
	// Every is the interval (default one minute).
	Every time.Duration
	// MaxKernelAge kills kernels older than this (default 4 h, the
	// original's value).
	MaxKernelAge time.Duration
	// HogAllow lists process names the CPU-hog rule spares (compilers,
	// say: --guard-hog-allow); names longer than the kernel's 15-character
	// process name match on their first 15.
	HogAllow []string
	// HogShare is the share of one core a hog uses (default 0.98), for
	// HogFor (default 5 min) before it is killed.
	HogShare float64
	HogFor   time.Duration
	// Miners lists process names killed on sight.
	Miners []string
	// Cgroups, when set, holds every student's processes in their cgroup
	// (guard_cgroups.go); Limits are the site's, for a group it remakes.
	Cgroups *cgroup.Manager
	Limits  wod.Limits

	samples map[int]*cpuSample // per pid
}

// GuardServer is what the guard asks and tells the server.
type GuardServer interface {
	// HeldSeats lists the student numbers that belong to a registration.
	HeldSeats(ctx context.Context) ([]int, error)
	// Event reports something the guard did.
	Event(ctx context.Context, kind, detail string) error
}

// DefaultMiners are process names of common crypto-miners.
var DefaultMiners = []string{"xmrig", "xmr-stak", "minerd", "cpuminer", "ethminer", "nbminer", "t-rex", "phoenixminer",
	"lolminer", "nanominer", "srbminer", "teamredminer", "ccminer", "bfgminer", "cgminer"}

type cpuSample struct {
	ticks  uint64 // utime + stime
	at     time.Time
	hotFor time.Duration // uninterrupted time at ≥ HogShare
}

// Run guards until ctx ends.
func (g *Guard) Run(ctx context.Context) {
	every := g.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := g.Sweep(ctx); err != nil && ctx.Err() == nil {
			g.Logger.WarnContext(ctx, "guard", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Kill is one process the guard killed.
type Kill struct {
	PID    int
	User   string
	Name   string
	Reason string
}

// Sweep looks at every student process once and kills what must go.
func (g *Guard) Sweep(ctx context.Context) error {
	held, err := g.Server.HeldSeats(ctx)
	if err != nil {
		return fmt.Errorf("held seats: %w", err)
	}
	if g.samples == nil {
		g.samples = map[int]*cpuSample{}
	}
	procs, err := studentProcesses(g.Host.UIDBase, g.Students, g.Host.root())
	if err != nil {
		return err
	}
	g.sweepCgroups(ctx, procs, held)
	seen := map[int]bool{}
	var kills []Kill
	now := time.Now()
	for _, p := range procs {
		seen[p.pid] = true
		if reason := g.verdict(p, held, now); reason != "" {
			if syscall.Kill(p.pid, syscall.SIGKILL) == nil {
				kills = append(kills, Kill{PID: p.pid, User: "student" + strconv.Itoa(p.student), Name: p.name, Reason: reason})
			}
		}
	}
	for pid := range g.samples {
		if !seen[pid] {
			delete(g.samples, pid)
		}
	}
	for _, k := range kills {
		detail := fmt.Sprintf("killed %s (pid %d) of %s: %s", k.Name, k.PID, k.User, k.Reason)
		g.Logger.InfoContext(ctx, "guard kill", "pid", k.PID, "user", k.User, "process", k.Name, "reason", k.Reason)
		if err := g.Server.Event(ctx, "guard.kill", detail); err != nil {
			g.Logger.WarnContext(ctx, "report guard kill", "error", err)
		}
	}
	return nil
}

// verdict says why a process must die, or "".
func (g *Guard) verdict(p studentProc, held []int, now time.Time) string {
	miners := g.Miners
	if miners == nil {
		miners = DefaultMiners
	}
	name := strings.ToLower(p.name)
	for _, m := range miners {
		if name == m || strings.HasPrefix(name, m) {
			return "known crypto-miner"
		}
	}
	if !slices.Contains(held, p.student) {
		return "the student has no live registration"
	}
	maxAge := g.MaxKernelAge
	if maxAge <= 0 {
		maxAge = 4 * time.Hour
	}
	if p.kernel && p.age > maxAge {
		return fmt.Sprintf("kernel older than %s", maxAge)
	}
	s := g.samples[p.pid]
	if s == nil || p.ticks < s.ticks { // new, or its pid taken by another process
		g.samples[p.pid] = &cpuSample{ticks: p.ticks, at: now}
		return ""
	}
	hogShare, hogFor := g.HogShare, g.HogFor
	if hogShare <= 0 {
		hogShare = 0.98
	}
	if hogFor <= 0 {
		hogFor = 5 * time.Minute
	}
	elapsed := now.Sub(s.at)
	if elapsed > 0 {
		share := float64(p.ticks-s.ticks) / clockTicks / elapsed.Seconds()
		if share >= hogShare {
			s.hotFor += elapsed
		} else {
			s.hotFor = 0
		}
	}
	s.ticks, s.at = p.ticks, now
	if s.hotFor >= hogFor && !hogAllowed(g.HogAllow, p.name) {
		return fmt.Sprintf("used %.0f%% of a CPU for %s", hogShare*100, hogFor)
	}
	return ""
}

// hogAllowed tells whether name (a process's comm, at most 15
// characters) is on the allow-list.
func hogAllowed(allow []string, name string) bool {
	for _, a := range allow {
		if a = strings.TrimSpace(a); a != "" && a[:min(len(a), 15)] == name {
			return true
		}
	}
	return false
}

// clockTicks is USER_HZ, 100 on every Linux the agent runs on.
const clockTicks = 100

type studentProc struct {
	pid, student int
	name         string
	ticks        uint64
	age          time.Duration
	kernel       bool
}

// studentProcesses lists the processes of uids base+1..base+n.
func studentProcesses(base, n int, root string) ([]studentProc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	uptime := readUptime()
	var out []studentProc
	others := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ruid, _, ok := procUIDs(pid)
		if !ok || ruid <= base || ruid > base+n {
			continue
		}
		if notOurs(others, ruid, ruid-base, root) {
			continue
		}
		p := studentProc{pid: pid, student: ruid - base}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// comm is in parentheses and may hold spaces: split after the last ')'.
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		p.name = s[open+1 : closing]
		fields := strings.Fields(s[closing+1:])
		if len(fields) > 19 {
			utime, _ := strconv.ParseUint(fields[11], 10, 64)
			stime, _ := strconv.ParseUint(fields[12], 10, 64)
			start, _ := strconv.ParseUint(fields[19], 10, 64)
			p.ticks = utime + stime
			if uptime > 0 {
				p.age = time.Duration((uptime - float64(start)/clockTicks) * float64(time.Second))
			}
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		p.kernel = strings.Contains(cmd, "ipykernel") || strings.Contains(cmd, "bash_kernel") ||
			strings.Contains(cmd, "kernel-") && strings.Contains(cmd, ".json")
		out = append(out, p)
	}
	return out, nil
}

func readUptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[0], 64)
	return u
}

// notOurs says whether the uid is the account of someone other than this
// host's student n: another location's student on the same machine (each
// has its own uid base, and the ranges a guard watches may overlap) or a
// system account), or the student n of another wod sharing the uid base
// on this machine, whose homes are under another student root (two
// installs side by side, or tests running concurrently: each one's guard
// killed the other's servers). An account of this root whose home was
// moved elsewhere is spared until its next create brings it back
// (EnsureAccount); a participant cannot move their own home. A uid with
// no account at all is still guarded: an account removed under a running
// process is no reason to spare it. Answers are cached in seen for one
// sweep.
func notOurs(seen map[int]bool, uid, n int, root string) bool {
	if v, ok := seen[uid]; ok {
		return v
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	other := err == nil && (u.Username != wod.StudentUsername(n) || filepath.Dir(filepath.Clean(u.HomeDir)) != filepath.Clean(root))
	seen[uid] = other
	return other
}
