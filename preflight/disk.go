package preflight

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
)

// minFreeDisk is the free space below which a disk deserves a warning: a
// class of students writing notebooks and datasets fills less quickly than
// this, a full disk fails every create.
const minFreeDisk = 2 << 30

// checkDisk says how much room the disk holding path has left.
func checkDisk(add addCheck, name, path string) {
	for {
		if _, err := os.Stat(path); err == nil || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path) // the nearest existing parent holds it
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		add(name, Warn, "%s: %v", path, err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	status := OK
	if free < minFreeDisk {
		status = Warn
	}
	add(name, status, "%.1f GiB free on %s", float64(free)/(1<<30), path)
}

// checkDiskLimit says how the students' homes are limited: a btrfs qgroup
// per home subvolume, user quotas, or nothing, and why.
func (c *Checker) checkDiskLimit(ctx context.Context, add addCheck) {
	ac := c.Config.Agent
	root := ac.StudentRoot
	if root == "" {
		root = agent.DefaultStudentRoot
	}
	q := agent.DetectDiskQuota(ctx, root)
	limit := wod.FormatSize(ac.StudentLimits.Disk)
	switch {
	case ac.StudentLimits.Disk == 0 && q.Kind == agent.DiskQuotaNone:
		add("disk limit", Skip, "--student-disk 0, and the student root could not limit homes anyway: %s", q.Why)
	case ac.StudentLimits.Disk == 0:
		add("disk limit", Skip, "--student-disk 0: homes are not limited unless a workshop says; available: %s", q)
	case q.Kind == agent.DiskQuotaNone:
		add("disk limit", Warn, "%s", q)
	default:
		plain := agent.PlainHomes(root)
		if plain > 0 {
			add("disk limit", OK, "%s; %s per student; %d home(s) still plain directories become subvolumes at their next wipe",
				q, limit, plain)
			return
		}
		add("disk limit", OK, "%s; %s per student", q, limit)
	}
}
