package wod

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Limits are what one student may use on the hub host: memory, CPU and
// tasks (enforced by the student's cgroup) and disk (a quota on the home).
// A zero field is unset: a workshop's unset field takes the site's default
// (--student-memory, …), and an unset site default means no limit.
type Limits struct {
	// Memory in bytes: the student's processes together, page cache
	// included; beyond it the kernel kills one of them.
	Memory int64 `json:"memory,omitempty" minimum:"0" doc:"Bytes of memory of all the student's processes together (0: the site's default)"`
	// CPUs is how many cores' worth of time the student gets (0.5 is half
	// of one core).
	CPUs float64 `json:"cpus,omitempty" minimum:"0" doc:"Cores' worth of CPU time, e.g. 0.5 or 2 (0: the site's default)"`
	// Tasks bounds processes and threads together: a fork bomb stops there.
	Tasks int `json:"tasks,omitempty" minimum:"0" doc:"Processes and threads at once (0: the site's default)"`
	// Disk in bytes: the quota of the student's home.
	Disk int64 `json:"disk,omitempty" minimum:"0" doc:"Bytes the student's home may hold (0: the site's default)"`
}

// Smallest limits that still run a notebook server and a kernel: a value
// below is a typo (2M for 2G), refused rather than a seat that never starts.
const (
	MinMemoryLimit = 64 << 20
	MinTasksLimit  = 32
	MinCPUsLimit   = 0.01
	MinDiskLimit   = 16 << 20
	MaxCPUsLimit   = 4096
	MaxTasksLimit  = 1 << 22 // the kernel's pid_max ceiling
)

// Or returns l with every unset field taken from defaults: a workshop's
// own value wins, else the site's.
func (l Limits) Or(defaults Limits) Limits {
	if l.Memory == 0 {
		l.Memory = defaults.Memory
	}
	if l.CPUs == 0 {
		l.CPUs = defaults.CPUs
	}
	if l.Tasks == 0 {
		l.Tasks = defaults.Tasks
	}
	if l.Disk == 0 {
		l.Disk = defaults.Disk
	}
	return l
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

// Validate checks each set limit; field names are prefix + memory, cpus,
// tasks or disk.
func (l Limits) Validate(v *Validation, prefix string) {
	v.Check(l.Memory <= 0 || l.Memory >= MinMemoryLimit, prefix+"memory",
		"%s is too little to run a notebook server: at least %s, such as 2G", FormatSize(l.Memory), FormatSize(MinMemoryLimit))
	v.Check(l.CPUs <= 0 || l.CPUs >= MinCPUsLimit && l.CPUs <= MaxCPUsLimit && !math.IsNaN(l.CPUs), prefix+"cpus",
		"%v is not a number of cores between %v and %v, such as 1 or 0.5", l.CPUs, MinCPUsLimit, MaxCPUsLimit)
	v.Check(l.Tasks <= 0 || l.Tasks >= MinTasksLimit && l.Tasks <= MaxTasksLimit, prefix+"tasks",
		"%d is not a number of processes and threads between %d and %d (a notebook server and a kernel use about 30), such as 512",
		l.Tasks, MinTasksLimit, MaxTasksLimit)
	v.Check(l.Disk <= 0 || l.Disk >= MinDiskLimit, prefix+"disk",
		"%s is too little for a home with notebooks: at least %s, such as 5G", FormatSize(l.Disk), FormatSize(MinDiskLimit))
	v.Check(l.Memory >= 0, prefix+"memory", "must not be negative")
	v.Check(l.CPUs >= 0, prefix+"cpus", "must not be negative")
	v.Check(l.Tasks >= 0, prefix+"tasks", "must not be negative")
	v.Check(l.Disk >= 0, prefix+"disk", "must not be negative")
}

// String describes the set limits for people, e.g. "memory 2G, cpus 1,
// tasks 512"; "no limits" when none is set.
func (l Limits) String() string {
	var parts []string
	if l.Memory > 0 {
		parts = append(parts, "memory "+FormatSize(l.Memory))
	}
	if l.CPUs > 0 {
		parts = append(parts, "cpus "+strconv.FormatFloat(l.CPUs, 'f', -1, 64))
	}
	if l.Tasks > 0 {
		parts = append(parts, "tasks "+strconv.Itoa(l.Tasks))
	}
	if l.Disk > 0 {
		parts = append(parts, "disk "+FormatSize(l.Disk))
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

// sizePattern is a number and an optional unit: K, M, G or T, each
// optionally followed by i and/or B (2G, 2Gi, 2GB, 2GiB), or B alone.
var sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b?)|b)?$`)

// sizeShift is the power of two of each unit. K, M, G and T are binary, as
// in JupyterHub's mem_limit and Docker's --memory: "2G" is 2 GiB.
var sizeShift = map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}

// ParseSize reads a size such as "2G", "512M", "1.5GiB" or "1073741824"
// (bytes). K, M, G and T are binary (2G = 2×1024³ bytes); "0" is 0.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 512M, 2G or a number of bytes", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 512M, 2G or a number of bytes", s)
	}
	shift := sizeShift[m[2]]
	bytes := math.Round(f * float64(uint64(1)<<shift))
	if bytes >= 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if shift == 0 && f != math.Trunc(f) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(bytes), nil
}

// FormatSize writes bytes the way ParseSize reads them, in the largest
// unit that keeps it exact ("2G", "1536M", "1000").
func FormatSize(n int64) string {
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	for _, unit := range []string{"T", "G", "M", "K"} {
		shift := sizeShift[strings.ToLower(unit)]
		if n%(1<<shift) == 0 {
			return strconv.FormatInt(n>>shift, 10) + unit
		}
	}
	return strconv.FormatInt(n, 10)
}

// Size is a number of bytes that flags and configuration files give as
// "2G" or "512M" (see ParseSize). It satisfies pflag.Value.
type Size int64

// String formats the size as ParseSize reads it.
func (s *Size) String() string { return FormatSize(int64(*s)) }

// Set parses a size.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// Type names the flag's value in help texts.
func (s *Size) Type() string { return "size" }

// ParseLimits reads limits as String writes them: "memory 2G, cpus 1,
// tasks 512, disk 5G", any of them, in any order; "" and "no limits" set
// none.
func ParseLimits(s string) (Limits, error) {
	var l Limits
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "no limits") {
		return l, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), " ")
		value = strings.TrimSpace(value)
		var err error
		switch strings.ToLower(key) {
		case "memory":
			l.Memory, err = ParseSize(value)
		case "disk":
			l.Disk, err = ParseSize(value)
		case "cpus":
			l.CPUs, err = strconv.ParseFloat(value, 64)
			if err != nil || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) {
				err = fmt.Errorf("%q is not a number of cores such as 1 or 0.5", value)
			}
		case "tasks":
			l.Tasks, err = strconv.Atoi(value)
			if err != nil {
				err = fmt.Errorf("%q is not a whole number", value)
			}
		default:
			err = fmt.Errorf("%q is not one of memory, cpus, tasks and disk", key)
		}
		if err != nil {
			return Limits{}, fmt.Errorf("%s: %w (write them as memory 2G, cpus 1, tasks 512, disk 5G)", strings.TrimSpace(part), err)
		}
	}
	return l, nil
}
