package agent

import (
	"context"
	"fmt"
	"slices"

	"github.com/wod-dev/wod"
)

// sweepCgroups keeps every process of a held seat in its student's cgroup
// and reports what the kernel did there since the last sweep.
//
// A held seat's group is made with the site's defaults when it is missing
// (after a reboot: the hub could not start the student's server without
// it); the workshop's own limits come back at the seat's next create. A
// process of the student outside the group (started over ssh to
// localhost, which workshops do, or by anything else the hub did not
// spawn) is moved in. OOM kills and forks refused at the task limit go to
// the audit trail as limits.oom_kill and limits.tasks_max.
func (g *Guard) sweepCgroups(ctx context.Context, procs []studentProc, held []int) {
	if g.Cgroups == nil {
		return
	}
	for _, n := range held {
		name := wod.StudentUsername(n)
		created, err := g.Cgroups.Ensure(name, g.Limits)
		if err != nil {
			g.Logger.WarnContext(ctx, "student cgroup", "student", name, "error", err)
			continue
		}
		if created {
			g.Logger.InfoContext(ctx, "made a held seat's missing cgroup, with the site's limits", "student", name,
				"limits", g.Limits.String())
		}
		ev, err := g.Cgroups.Events(name)
		if err != nil {
			g.Logger.WarnContext(ctx, "student cgroup events", "student", name, "error", err)
			continue
		}
		if ev.OOMKills > 0 {
			limit := "its memory limit"
			if l := g.Cgroups.MemoryLimit(name); l > 0 {
				limit = "its memory limit of " + wod.FormatSize(l)
			}
			g.report(ctx, "limits.oom_kill", fmt.Sprintf("%s: the kernel killed %d process(es) at %s", name, ev.OOMKills, limit))
		}
		if ev.TasksMax > 0 {
			g.report(ctx, "limits.tasks_max",
				fmt.Sprintf("%s: %d fork(s) refused at the task limit (a fork bomb, or too many threads)", name, ev.TasksMax))
		}
	}
	for _, p := range procs {
		if !slices.Contains(held, p.student) {
			continue // the guard kills it
		}
		name := wod.StudentUsername(p.student)
		in, err := g.Cgroups.Contains(name, p.pid)
		if err != nil || in {
			continue
		}
		if err := g.Cgroups.Place(name, p.pid); err != nil {
			g.Logger.WarnContext(ctx, "moving a student's process into their cgroup", "student", name, "pid", p.pid, "error", err)
			continue
		}
		g.Logger.InfoContext(ctx, "moved a student's process into their cgroup", "student", name, "pid", p.pid, "process", p.name)
	}
}

func (g *Guard) report(ctx context.Context, kind, detail string) {
	g.Logger.InfoContext(ctx, "student limits", "kind", kind, "detail", detail)
	if err := g.Server.Event(ctx, kind, detail); err != nil {
		g.Logger.WarnContext(ctx, "report "+kind, "error", err)
	}
}
