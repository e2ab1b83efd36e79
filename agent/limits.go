package agent

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// limits are what the seat's student may use: the workshop's own, else
// the site's defaults.
func (o *HubOperator) limits(j *wod.AgentJob) wod.Limits { return j.Limits.Or(o.Limits) }

// confine (re)creates the student's cgroup with the seat's limits, before
// anything of the new holder runs: the hub starts their server in it.
func (o *HubOperator) confine(j *wod.AgentJob, a Account) error {
	if o.Cgroups == nil {
		return nil
	}
	l := o.limits(j)
	if err := o.Cgroups.Apply(a.Name, l); err != nil {
		return fmt.Errorf("limits of %s: %w", a.Name, err)
	}
	if o.Logger != nil {
		o.Logger.Debug("student limits applied", "student", a.Name, "limits", l.String())
	}
	return nil
}

// release kills whatever is left in the student's cgroup (forks of a
// fork bomb included, which a kill by uid can miss) and removes it, so
// that nothing of the holder runs on and the hub starts no server for the
// seat until the next create confines it again.
func (o *HubOperator) release(ctx context.Context, a Account) error {
	if o.Cgroups == nil {
		return nil
	}
	if err := o.Cgroups.Empty(ctx, a.Name); err != nil {
		return fmt.Errorf("emptying the cgroup of %s: %w", a.Name, err)
	}
	return nil
}
