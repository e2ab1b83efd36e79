package app

import (
	"context"

	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/preflight"
)

// Preflight runs `wod check` for the role (preflight.Checker) with the
// notebook variables and the directory the running role would use.
func (a *App) Preflight(ctx context.Context, role string) []preflight.Check {
	return a.PreflightWith(ctx, role, nil)
}

// PreflightWith is Preflight with the checker adjusted by set (a running
// role's hub token, its store).
func (a *App) PreflightWith(ctx context.Context, role string, set func(*preflight.Checker)) []preflight.Check {
	c := &preflight.Checker{Config: a.Config, Clock: a.Clock, Vars: a.NotebookVars()}
	if role != config.RoleServer {
		c.HostKernels = a.HostKernels()
	}
	if a.Config.Agent.LDAPURL != "" {
		c.Directory = a.Directory()
	}
	if set != nil {
		set(c)
	}
	return c.Run(ctx, role)
}
