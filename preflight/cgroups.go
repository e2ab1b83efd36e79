package preflight

import (
	"errors"
	"strings"

	"github.com/wod-dev/wod/cgroup"
)

// checkCgroups says which cgroup hierarchy holds the students' limits and
// whether its controllers are there.
func (c *Checker) checkCgroups(add addCheck) {
	ac := c.Config.Agent
	h, err := cgroup.Detect()
	switch {
	case errors.Is(err, cgroup.ErrNoCgroups):
		add("student limits", Warn, "%v: students run without memory, CPU and task limits", err)
		return
	case err != nil:
		add("student limits", Warn, "%v", err)
		return
	}
	if missing := h.Missing(); len(missing) > 0 {
		add("student limits", Warn, "%s: no %s controller, so those limits are not enforced",
			h, strings.Join(missing, ", "))
	} else {
		add("student limits", OK, "%s; each student in %s/studentN; defaults %s (a workshop's wod.yml may say otherwise)",
			h, cgroup.DefaultParent, ac.StudentLimits)
	}
	if ac.HubAPI != "" {
		add("student limits (hub)", Warn, "an existing hub (--hub-api) starts the students' servers outside their cgroups: "+
			"the process guard moves them in within a minute; the managed hub places them before they start")
	}
}
