package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/cgroup"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/directory"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/jupyterhub"
)

// AgentParts are the pieces of a running agent.
type AgentParts struct {
	Runner  *agent.Runner
	Guard   *agent.Guard
	Disk    *agent.DiskGuard    // freezes the subvolumes students make in btrfs homes
	Hub     *jupyterhub.Managed // nil with an external hub
	Banners *agent.Banners      // the announcements on the managed hub's pages
	Checks  *CheckRunner        // wod check every --check-every, reported to the server
}

// BuildAgent assembles the agent for the server it reaches (in-process or
// over HTTP) and the content directories it deploys from (after the
// --content-repo repositories, when there are some).
func (a *App) BuildAgent(ctx context.Context, server interface {
	agent.Server
	agent.GuardServer
}, contentDirs []string) (*AgentParts, error) {
	if os.Geteuid() != 0 {
		return nil, agent.ErrNotRoot
	}
	ac := a.Config.Agent
	parts := &AgentParts{}
	cgroups := a.studentCgroups()
	var hub *jupyterhub.Client
	var err error
	a.InstallKernels()
	jupyterPath := ""
	if ac.HubAPI != "" {
		if jp := a.kernelJupyterPath(); jp != "" {
			a.Logger.Warn("--kernelspec-dir is not on Jupyter's standard path: give the hub's servers JUPYTER_PATH",
				"kernelspec_dir", ac.KernelspecDir, "JUPYTER_PATH", jp)
		}
		hub, err = jupyterhub.NewExternal(ctx, ac.HubAPI, ac.HubToken)
		if err != nil {
			return nil, err
		}
	} else {
		// The hub's API and the proxy's API listen on loopback, on free
		// ports picked once and kept; the students' servers outlive a
		// restart of the agent (an upgrade mid-event keeps their kernels)
		// and call the next hub there.
		parts.Hub = &jupyterhub.Managed{Dir: filepath.Join(a.Config.Data, "hub"), Bind: ac.HubAddr,
			KeepServers: true, StudentGroup: agent.DefaultGroup,
			Announcement: a.Config.Announcement, Logger: a.Logger.With("component", "jupyterhub"),
			LoginThrottle: jupyterhub.LoginThrottle{DelayAfter: never(ac.HubLoginDelayAfter),
				BlockAfter: never(ac.HubLoginBlockAfter), AddressBlockAfter: never(ac.HubLoginAddressBlockAfter),
				BlockFor: ac.HubLoginBlockFor, Exempt: ac.HubLoginExempt},
			// Failed and refused logins join the audit trail, as guard kills do.
			Audit: server.Event}
		if cgroups != nil {
			parts.Hub.CgroupDirs = cgroups.Dirs()
		}
		jupyterPath = a.kernelJupyterPath()
		parts.Hub.JupyterPath = jupyterPath
		hub, err = parts.Hub.Start(ctx)
		if err != nil {
			return nil, err
		}
	}
	host := &agent.Host{Root: ac.StudentRoot, UIDBase: ac.UIDBase, GIDBase: ac.UIDBase, Group: agent.DefaultGroup,
		DiskLimit: ac.StudentLimits.Disk}
	if q := host.DiskQuota(ctx); q.Kind == agent.DiskQuotaNone {
		a.Logger.Warn("students' homes have no disk limit", "student_root", ac.StudentRoot, "why", q.String())
	} else {
		a.Logger.Info("students' disk limit", "student_root", ac.StudentRoot, "default", wod.FormatSize(ac.StudentLimits.Disk), "mechanism", q.String())
	}
	renderer := content.NewRenderer()
	repos, err := a.contentRepos()
	if err != nil {
		return nil, err
	}
	op := &agent.HubOperator{Host: host, Hub: hub,
		Workshops: &agent.ContentWorkshops{Dirs: contentDirs, Renderer: renderer},
		Hooks:     &agent.Hooks{Dirs: contentDirs, Timeout: ac.HookTimeout},
		Compiler:  &agent.Compiler{Dirs: contentDirs, Renderer: renderer, Timeout: ac.HookTimeout},
		Vars:      a.NotebookVars(), PreStart: ac.PreStart, WarmServer: ac.WarmServer, StateDir: filepath.Join(a.Config.Data, "agent"),
		Cgroups: cgroups, Limits: ac.StudentLimits, Logger: a.Logger.With("component", "agent")}
	if len(repos) > 0 {
		// Each job deploys the repositories at the commits the server
		// imported, which the job names.
		op.Content = &gitcontent.Source{Repos: repos, Dirs: contentDirs}
	}
	if w, ok := server.(agent.WarmSource); ok {
		op.Warm = w
	}
	if ac.LDAPURL != "" {
		d := a.Directory()
		if err := d.Validate(); err != nil {
			return nil, err
		}
		op.Directory = d
	}
	parts.Runner = &agent.Runner{Server: server, Operator: op, Logger: a.Logger.With("component", "agent"), Workers: ac.Workers,
		Kernels: hostKernels(jupyterPath), HeartbeatEvery: ac.HeartbeatEvery}
	parts.Guard = &agent.Guard{Host: host, Server: server, Logger: a.Logger.With("component", "guard"),
		Students: wod.MaxStudentsPerLocation, HogAllow: ac.GuardHogAllow, Cgroups: cgroups, Limits: ac.StudentLimits}
	parts.Disk = &agent.DiskGuard{Host: host, Server: server, Logger: a.Logger.With("component", "guard")}
	parts.Checks = a.agentChecks(server, hub)
	if src, ok := server.(agent.BannerSource); ok && parts.Hub != nil {
		parts.Banners = &agent.Banners{Source: src, Static: a.Config.Announcement, Hub: parts.Hub,
			Logger: a.Logger.With("component", "banners")}
	}
	return parts, nil
}

// studentCgroups sets up the students' cgroups (wod/studentN), or says
// in the log why the students run without memory, CPU and task limits.
func (a *App) studentCgroups() *cgroup.Manager {
	log := a.Logger.With("component", "agent")
	h, err := cgroup.Detect()
	if err != nil {
		log.Warn("students run WITHOUT memory, CPU and task limits", "error", err)
		return nil
	}
	m := &cgroup.Manager{Hierarchy: h}
	if err := m.Setup(); err != nil {
		log.Warn("students run WITHOUT memory, CPU and task limits", "hierarchy", h.String(), "error", err)
		return nil
	}
	if missing := h.Missing(); len(missing) > 0 {
		log.Warn("some student limits are not enforced: the host lacks their cgroup controllers",
			"missing", strings.Join(missing, ", "), "hierarchy", h.String())
	}
	log.Info("students run in cgroups of their own", "hierarchy", h.String(),
		"default_limits", a.Config.Agent.StudentLimits.String())
	if a.Config.Agent.HubAPI != "" {
		log.Warn("with an existing hub (--hub-api) the students' servers start outside their cgroups; " +
			"the process guard moves them in within a minute")
	}
	return m
}

// never maps a flag's 0 ("never") to the hub's negative "never" (its 0 is
// the default).
func never(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// Run runs the agent's parts until ctx ends.
func (p *AgentParts) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if p.Hub != nil {
		wg.Go(func() { p.Hub.Run(ctx) })
	}
	wg.Go(func() { p.Runner.Run(ctx) })
	wg.Go(func() { p.Guard.Run(ctx) })
	if p.Disk != nil {
		wg.Go(func() { p.Disk.Run(ctx) })
	}
	if p.Banners != nil {
		wg.Go(func() { p.Banners.Run(ctx) })
	}
	if p.Checks != nil {
		wg.Go(func() { p.Checks.Run(ctx) })
	}
	wg.Wait()
}

// Directory is the LDAP directory of --ldap-url.
func (a *App) Directory() *directory.Directory {
	ac := a.Config.Agent
	return &directory.Directory{URL: ac.LDAPURL, BindDN: ac.LDAPBindDN, Password: ac.LDAPPassword, UserDN: ac.LDAPUserDN}
}

// NotebookVars are the configured variables of the notebooks: the branding
// and links of the configuration, the hub's host name, then every --var.
func (a *App) NotebookVars() content.Vars {
	v := content.Vars{}
	bc := a.Config.Branding
	if bc.Name != "" {
		v["BRANDING"], v["BRANDINGWOD"] = bc.Name, bc.Name
	}
	if bc.URL != "" {
		v["BRANDINGURL"] = bc.URL
	}
	if bc.FeedbackURL != "" {
		v["SURVEYURL"], v["SURVEYCHALURL"] = bc.FeedbackURL, bc.FeedbackURL
	}
	if u, err := url.Parse(a.Config.HubURL); err == nil && u.Hostname() != "" {
		v["WODBEEXTFQDN"], v["WODBEFQDN"] = u.Hostname(), u.Hostname()
	}
	for _, kv := range a.Config.NotebookVars {
		k, val, _ := strings.Cut(kv, "=")
		v[strings.TrimSpace(k)] = val
	}
	return v
}

// AgentFor returns the in-process agent's view of this server, for wod up.
func (a *App) AgentFor(l *wod.Location) *agent.Local {
	return &agent.Local{Service: a.Engine, Banners: a.DB, LocationID: l.ID, Name: fmt.Sprintf("agent@%s", l.Name)}
}
