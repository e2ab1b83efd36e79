// Package preflight checks, changing nothing, that this machine and its
// configuration can play a role (server, agent, or up for both): what
// `wod check` reports before an event. No migration, no key generated, no
// mail sent, no account created; the agent role with --server proves the
// agent token with a read-only call.
package preflight

import (
	"context"
	"crypto/x509"
	"fmt"
	"os/exec"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/directory"
)

// Status is the verdict of one check.
type Status string

// Verdicts: a failure stops the role from working, a warning deserves a
// look, a skip did not apply.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
	Skip Status = "skip"
)

// Check is what one check found.
type Check struct {
	Name   string
	Status Status
	Detail string
}

// Checker holds what the checks look at. The caller builds the pieces the
// running roles would use, so that the checks test those and not a copy.
type Checker struct {
	Config *config.Config
	Clock  wod.Clock // nil: the system's
	// Vars are the notebooks' variables, as the agent renders with them.
	Vars content.Vars
	// Directory is the LDAP directory of --ldap-url; nil without one.
	Directory *directory.Directory
	// HostKernels are the Jupyter kernels the hub's servers on this host
	// have once the agent started (for the agent and up roles).
	HostKernels []string
	// Host is where the host checks read the machine (nil: this one).
	Host *Host
	// HubToken, when set, proves the running agent's hub token (the
	// managed hub's; an external hub's is proved by the jupyterhub check).
	HubToken func(ctx context.Context) error
	// ContentRepos, when set, gives the server's content repositories'
	// sync state; nil reads them from the database.
	ContentRepos func(ctx context.Context) ([]*wod.ContentRepo, error)
	// InProcess: the agent runs in the server's process (wod up), which
	// the server check need not prove.
	InProcess bool
	// Roots verify the public URL's certificate (nil: the system's).
	Roots *x509.CertPool
}

// Run runs the checks of the role, in the order `wod check` reports them.
func (c *Checker) Run(ctx context.Context, role string) []Check {
	var cs []Check
	add := func(name string, status Status, format string, args ...any) {
		cs = append(cs, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	if role == config.RoleServer || role == config.RoleUp {
		c.checkData(add)
		c.checkDatabase(ctx, add)
		c.checkMail(ctx, add)
		c.checkPublicURL(add)
		c.checkCertificate(ctx, add)
		c.checkContentSync(ctx, add)
	}
	c.checkContent(ctx, add)
	c.checkKernels(ctx, role, add)
	if role == config.RoleAgent || role == config.RoleUp {
		c.checkHubURL(add)
		c.checkAgent(ctx, role, add)
		c.checkStudentLimits(add)
		checkSysctls(c.Host, add)
	}
	c.checkTimeSync(add)
	c.checkFirewall(ctx, role, add)
	return cs
}

// addCheck records one check's verdict.
type addCheck func(name string, status Status, format string, args ...any)

// missingTools are the programs of tools not on the PATH.
func missingTools(tools ...string) []string {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}
