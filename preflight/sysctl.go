package preflight

import (
	"fmt"
	"strconv"
	"strings"
)

// A sysctl the hub host needs, and why: the original's daily playbook
// set these on every JupyterHub host.
type sysctlRule struct {
	key  string // under /proc/sys, with dots
	min  int64  // the value must be at least this
	want string // or exactly this, when set
	why  string
}

var sysctlRules = []sysctlRule{
	{key: "fs.protected_symlinks", want: "1", why: "a student's link in a shared sticky directory must not steer root's writes"},
	{key: "fs.protected_hardlinks", want: "1", why: "a student must not hard-link files they cannot write (root's files) into their home"},
	{key: "kernel.pid_max", min: 65536, why: "a class of students each running kernels and their children needs pids"},
	{key: "fs.inotify.max_user_watches", min: 65536, why: "each notebook server watches its files; too few and servers fail to start"},
	{key: "fs.inotify.max_user_instances", min: 512, why: "each notebook server and kernel opens inotify instances"},
}

// checkSysctls reads the sysctls that matter under procSys and judges them.
func checkSysctls(h *Host, add addCheck) {
	values := map[string]string{}
	for _, r := range sysctlRules {
		b, err := h.read("/proc/sys/" + strings.ReplaceAll(r.key, ".", "/"))
		if err == nil {
			values[r.key] = strings.TrimSpace(string(b))
		}
	}
	status, detail := sysctlVerdict(values)
	add("sysctl", status, "%s", detail)
}

// sysctlVerdict judges the values read (a missing key is unknown).
func sysctlVerdict(values map[string]string) (Status, string) {
	var bad, unknown, good []string
	status := OK
	for _, r := range sysctlRules {
		v, ok := values[r.key]
		switch {
		case !ok:
			unknown = append(unknown, r.key)
		case r.want != "" && v != r.want:
			bad = append(bad, fmt.Sprintf("%s = %s, want %s: %s (sysctl -w %s=%s)", r.key, v, r.want, r.why, r.key, r.want))
			status = Fail
		case r.want == "":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < r.min {
				bad = append(bad, fmt.Sprintf("%s = %s, want at least %d: %s", r.key, v, r.min, r.why))
				if status == OK {
					status = Warn
				}
				continue
			}
			good = append(good, r.key+" = "+v)
		default:
			good = append(good, r.key+" = "+v)
		}
	}
	if len(unknown) > 0 && status == OK {
		status = Warn
	}
	var parts []string
	parts = append(parts, bad...)
	if len(unknown) > 0 {
		parts = append(parts, "unreadable: "+strings.Join(unknown, ", "))
	}
	if len(bad) == 0 {
		parts = append(parts, strings.Join(good, ", "))
	}
	return status, strings.Join(parts, "\n")
}
