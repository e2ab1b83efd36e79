package app

import (
	"context"

	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/preflight"
)

// Preflight runs `wod check` for the role (preflight.Checker) with the
// notebook variables and the directory the running role would use.
func (a *App) Preflight(ctx context.Context, role string) []preflight.Check {
	c := &preflight.Checker{Config: a.Config, Clock: a.Clock, Vars: a.NotebookVars()}
	if role != config.RoleServer {
		c.HostKernels = a.HostKernels()
	}
	if a.Config.Agent.LDAPURL != "" {
		c.Directory = a.Directory()
	}
	return c.Run(ctx, role)
}
