package app

import (
	"slices"

	"github.com/wod-dev/wod/kernel"
)

// hubCommand is the managed hub's executable, whose Python environment
// the students' servers run in.
const hubCommand = "jupyterhub"

// InstallKernels writes wod's kernelspecs (bash, ssh, gophernotes) into
// --kernelspec-dir, running --kernel-binary, and logs what it did: at each
// start of the agent, so an upgrade that moved the binary rewrites them. A
// site's own kernel of the same name is left alone. A failure is logged,
// not fatal: the agent works for the workshops on other kernels, and wod
// check and the import say which workshops miss a kernel.
func (a *App) InstallKernels() ([]kernel.Installed, error) {
	ac := a.Config.Agent
	log := a.Logger.With("component", "agent")
	done, err := kernel.Install(ac.KernelspecDir, ac.KernelBinary)
	for _, in := range done {
		switch in.Action {
		case kernel.SiteKernel:
			log.Info("kernelspec: the site's own kernel is kept", "kernel", in.Name, "path", in.Path, "runs", in.Argv0)
		case kernel.Unchanged:
		default:
			log.Info("kernelspec "+string(in.Action), "kernel", in.Name, "path", in.Path, "binary", ac.KernelBinary)
		}
	}
	if err != nil {
		log.Warn("wod's kernels are not all installed", "dir", ac.KernelspecDir, "error", err)
	}
	return done, err
}

// kernelJupyterPath is the JUPYTER_PATH the managed hub's servers need to
// find --kernelspec-dir, or "" when it is on their standard path.
func (a *App) kernelJupyterPath() string {
	return kernel.JupyterPathFor(a.Config.Agent.KernelspecDir, hubCommand)
}

// hostKernels lists the kernels the hub's servers find on this host, for
// the agent's heartbeat: the hub's Python environment and the system
// directories, plus jupyterPath (what the managed hub hands its servers).
func hostKernels(jupyterPath string) func() []string {
	return func() []string {
		return kernel.Names(kernel.Scan(kernel.HostPaths(hubCommand, jupyterPath).KernelDirs()))
	}
}

// HostKernels are the kernels the hub's servers on this host have, or
// will have once the agent started: those of their Jupyter path and
// wod's own (the agent installs them; a site's kernel of the same name
// stands in for one). For `wod workshop test` and `wod check`.
func (a *App) HostKernels() []string {
	names := kernel.Names(kernel.Scan(kernel.HostPaths(hubCommand, a.kernelJupyterPath()).KernelDirs()))
	for _, p := range kernel.ProvidedKernels() {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names
}
