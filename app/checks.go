package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/preflight"
)

// CheckRunner runs `wod check` on its own every Every and records the
// results where the operators see them: the server's own directly, an
// agent's through the agent protocol. The store tells a new failure from
// one that lasts, so restarts and replicas alert once.
type CheckRunner struct {
	Every  time.Duration
	Check  func(ctx context.Context) []preflight.Check
	Record func(ctx context.Context, results []wod.CheckResult) error
	Logger *slog.Logger
}

// checkSettle is how long after its start a role first checks: its hub,
// its content and its agents settle first, and a process restarting in a
// loop does not log in to the SMTP relay at every start.
const checkSettle = 5 * time.Minute

// Run checks once the role has settled, then every Every, until ctx ends.
func (r *CheckRunner) Run(ctx context.Context) {
	t := time.NewTimer(min(r.Every, checkSettle))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.RunOnce(ctx)
		t.Reset(r.Every)
	}
}

// RunOnce runs the checks and records them.
func (r *CheckRunner) RunOnce(ctx context.Context) {
	cs := r.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	results := make([]wod.CheckResult, len(cs))
	failed, warned := 0, 0
	for i, c := range cs {
		results[i] = wod.CheckResult{Name: c.Name, Status: string(c.Status), Detail: c.Detail}
		switch c.Status {
		case preflight.Fail:
			failed++
			r.Logger.WarnContext(ctx, "check failed", "check", c.Name, "detail", c.Detail)
		case preflight.Warn:
			warned++
		}
	}
	if err := r.Record(ctx, results); err != nil {
		r.Logger.ErrorContext(ctx, "recording the checks", "error", err)
		return
	}
	r.Logger.InfoContext(ctx, "checks done", "checks", len(cs), "failed", failed, "warnings", warned)
}

// serverChecks is the server's own check runner (nil with --check-every 0).
func (a *App) serverChecks() *CheckRunner {
	if a.Config.CheckEvery <= 0 {
		return nil
	}
	return &CheckRunner{Every: a.Config.CheckEvery, Logger: a.Logger.With("component", "checks"),
		Check: func(ctx context.Context) []preflight.Check {
			return a.PreflightWith(ctx, config.RoleServer, func(c *preflight.Checker) {
				c.ContentRepos = a.DB.FindContentRepos
			})
		},
		Record: func(ctx context.Context, results []wod.CheckResult) error {
			return a.Engine.RecordChecks(ctx, wod.CheckScopePlatform, "system", results)
		}}
}

// agentChecks is a running agent's check runner, reporting to its server
// (nil with --check-every 0, or a server that takes no reports).
func (a *App) agentChecks(server any, hub *jupyterhub.Client) *CheckRunner {
	reporter, ok := server.(agent.CheckReporter)
	if a.Config.CheckEvery <= 0 || !ok {
		return nil
	}
	_, inProcess := server.(*agent.Local)
	return &CheckRunner{Every: a.Config.CheckEvery, Logger: a.Logger.With("component", "checks"),
		Check: func(ctx context.Context) []preflight.Check {
			return a.PreflightWith(ctx, config.RoleAgent, func(c *preflight.Checker) {
				c.InProcess = inProcess
				if hub != nil {
					c.HubToken = hub.CheckToken
				}
			})
		},
		Record: reporter.ReportChecks}
}
