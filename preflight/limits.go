package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// minStudentFiles is the open-files limit below which notebooks that open
// datasets, sockets and kernels fail with "Too many open files".
const minStudentFiles = 4096

// studentLimits is what bounds the students' processes.
type studentLimits struct {
	// Inherited are the soft limits of this process, which the hub it
	// starts hands to the students' servers (LocalProcessSpawner opens no
	// PAM session): "unlimited" or a number; "" when unknown.
	InheritedFiles, InheritedProcs string
	// Conf are the limits.conf lines (pam_limits: SSH and console logins)
	// that apply to the students, item → soft value.
	ConfFiles, ConfProcs string
	// Tasks is the cgroup tasks limit per student (--student-tasks).
	Tasks int
}

// checkStudentLimits reads the limits the students get and judges them.
func (c *Checker) checkStudentLimits(add addCheck) {
	ac := c.Config.Agent
	sl := studentLimits{Tasks: ac.StudentLimits.Tasks}
	if b, err := c.Host.read("/proc/self/limits"); err == nil {
		sl.InheritedFiles, sl.InheritedProcs = parseProcLimits(string(b))
	}
	n := c.Config.Students
	if n <= 0 {
		n = 1
	}
	confs := c.limitsConfs()
	sl.ConfFiles, sl.ConfProcs = confLimits(confs, ac.UIDBase+1, ac.UIDBase+n, "wod-students")
	status, detail := studentLimitsVerdict(sl)
	add("student limits", status, "%s", detail)
}

// limitsConfs reads limits.conf and limits.d/*.conf, in pam_limits' order.
func (c *Checker) limitsConfs() []string {
	var out []string
	if b, err := c.Host.read("/etc/security/limits.conf"); err == nil {
		out = append(out, string(b))
	}
	names, _ := filepath.Glob(c.Host.path("/etc/security/limits.d/*.conf"))
	slices.Sort(names)
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// parseProcLimits reads the soft open-files and processes limits of a
// /proc/PID/limits text.
func parseProcLimits(text string) (files, procs string) {
	for _, line := range strings.Split(text, "\n") {
		var rest string
		var ok bool
		if rest, ok = strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				files = f[0]
			}
		} else if rest, ok = strings.CutPrefix(line, "Max processes"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				procs = f[0]
			}
		}
	}
	return files, procs
}

// confLimits returns the soft nofile and nproc values that limits.conf
// texts give the students (uids first..last, in group): the last line of
// a domain that covers them wins, as pam_limits applies them in order
// (its user-specific-over-wildcard precedence aside).
func confLimits(texts []string, first, last int, group string) (files, procs string) {
	covers := func(domain string) bool {
		switch {
		case domain == "*":
			return true
		case domain == "@"+group || domain == "%"+group:
			return true
		case strings.HasPrefix(domain, "student"):
			_, err := strconv.Atoi(strings.TrimPrefix(domain, "student"))
			return err == nil
		case strings.Contains(domain, ":") && !strings.HasPrefix(domain, "@") && !strings.HasPrefix(domain, "%"):
			lo, hi, _ := strings.Cut(domain, ":")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if lo == "" {
				a, err1 = 0, nil
			}
			if hi == "" {
				b, err2 = 1<<31-1, nil
			}
			return err1 == nil && err2 == nil && a <= first && last <= b
		}
		return false
	}
	for _, text := range texts {
		for _, line := range strings.Split(text, "\n") {
			line, _, _ = strings.Cut(line, "#")
			f := strings.Fields(line)
			if len(f) != 4 || !covers(f[0]) || f[1] == "hard" {
				continue
			}
			switch f[2] {
			case "nofile":
				files = f[3]
			case "nproc":
				procs = f[3]
			}
		}
	}
	return files, procs
}

// studentLimitsVerdict: the notebook servers need open files; a process
// count bound (the cgroup's tasks limit, or an nproc limit) stops a fork
// bomb from taking the host and the other students with it.
func studentLimitsVerdict(sl studentLimits) (Status, string) {
	status := OK
	var parts []string
	files := sl.InheritedFiles
	switch {
	case files == "":
		status = Warn
		parts = append(parts, "open files: unknown (no /proc/self/limits)")
	case files != "unlimited" && atoi(files) < minStudentFiles:
		status = Warn
		parts = append(parts, fmt.Sprintf("open files: the students' servers inherit %s, want at least %d "+
			"(LimitNOFILE= in the unit; wod install writes 65536)", files, minStudentFiles))
	default:
		parts = append(parts, "open files: "+files+" for the students' servers")
	}
	if sl.ConfFiles != "" && sl.ConfFiles != "unlimited" && atoi(sl.ConfFiles) < minStudentFiles {
		status = Warn
		parts = append(parts, fmt.Sprintf("open files at login: limits.conf gives the students %s, want at least %d",
			sl.ConfFiles, minStudentFiles))
	}
	switch {
	case sl.Tasks > 0:
		parts = append(parts, fmt.Sprintf("processes: %d per student (cgroup)", sl.Tasks))
	case sl.ConfProcs != "" && sl.ConfProcs != "unlimited" && sl.ConfProcs != "-1":
		parts = append(parts, "processes: "+sl.ConfProcs+" per student (limits.conf)")
	case sl.InheritedProcs != "" && sl.InheritedProcs != "unlimited":
		parts = append(parts, "processes: "+sl.InheritedProcs+" per user, inherited")
	default:
		status = Warn
		parts = append(parts, "processes: no bound per student (set --student-tasks, or nproc in limits.conf): "+
			"a fork bomb takes the host")
	}
	return status, strings.Join(parts, "; ")
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
