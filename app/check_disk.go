package app

import (
	"context"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
)

// checkDiskLimit says how the students' homes are limited: a btrfs qgroup
// per home subvolume, user quotas, or nothing, and why.
func (a *App) checkDiskLimit(ctx context.Context, add addCheck) {
	ac := a.Config.Agent
	root := ac.StudentRoot
	if root == "" {
		root = agent.DefaultStudentRoot
	}
	q := agent.DetectDiskQuota(ctx, root)
	limit := wod.FormatSize(ac.StudentLimits.Disk)
	switch {
	case ac.StudentLimits.Disk == 0 && q.Kind == agent.DiskQuotaNone:
		add("disk limit", CheckSkip, "--student-disk 0, and the student root could not limit homes anyway: %s", q.Why)
	case ac.StudentLimits.Disk == 0:
		add("disk limit", CheckSkip, "--student-disk 0: homes are not limited unless a workshop says; available: %s", q)
	case q.Kind == agent.DiskQuotaNone:
		add("disk limit", CheckWarn, "%s", q)
	default:
		plain := agent.PlainHomes(root)
		if plain > 0 {
			add("disk limit", CheckOK, "%s; %s per student; %d home(s) still plain directories become subvolumes at their next wipe",
				q, limit, plain)
			return
		}
		add("disk limit", CheckOK, "%s; %s per student", q, limit)
	}
}
