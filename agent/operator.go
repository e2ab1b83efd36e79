package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/cgroup"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/secret"
)

// Hub is what the operations need of JupyterHub.
type Hub interface {
	EnsureUser(ctx context.Context, name string) error
	// DeleteUser removes the hub user with everything the hub issued to
	// it: its login cookie's identity (JupyterHub's cookie_id), API and
	// OAuth tokens. A user that does not exist is success.
	DeleteUser(ctx context.Context, name string) error
	StartServer(ctx context.Context, name string) error
	StopServer(ctx context.Context, name string) error
}

// Workshops renders content for a student and measures their work.
type Workshops interface {
	// Deploy renders the workshop into the student's home (in a folder of
	// its name) with the variables, replacing what was there.
	Deploy(ctx context.Context, slug, home string, vars map[string]any) error
	// Completion is the percentage of the workshop's code cells the
	// student ran, read from their notebooks: only the regular files that
	// the student's uid owns.
	Completion(ctx context.Context, slug, home string, uid int) (int, error)
	// Archive zips the workshop's folder as the student left it, for them
	// to download after the end; nil when there is nothing. Only the
	// student's own regular files go in.
	Archive(ctx context.Context, slug, home string, uid int) ([]byte, error)
}

// Directory is an LDAP directory the students log in to appliances with.
type Directory interface {
	SetPassword(ctx context.Context, student int, password string) error
}

// HubOperator runs the four operations of DESIGN §4 on a JupyterHub host.
// Each one is idempotent: run twice, it ends in the same state.
type HubOperator struct {
	Host      *Host
	Hub       Hub
	Workshops Workshops
	Hooks     *Hooks
	// Compiler builds the scripts a workshop lists under `compile:`.
	Compiler *Compiler
	// Vars are the configured notebook variables (branding, appliances…).
	Vars content.Vars
	// PreStart starts the student's notebook server once the seat is
	// ready, so that the first login is instant. The pre-starts run in
	// RunBackground (prestart.go), which the Runner runs.
	PreStart bool
	// PreStarts bounds the pre-starts running at once (default 4): a burst
	// of registrations must not become a burst of spawns that starves the
	// machine until the hub's spawn timeouts fail them all.
	PreStarts int
	// WarmServer starts the server of a warm seat (wod.WarmPool) as part
	// of making it; off, a warm seat is its account, password, notebooks
	// and hub user, and the hub spawns the server at the first login
	// (about 110 MB less per idle warm seat).
	WarmServer bool
	// Warm, with WarmServer, lists the warm seats whose servers the agent
	// keeps running (warmservers.go); nil: only the warm job starts them.
	Warm WarmSource
	// Directory, when set, gets the students' passwords of the workshops
	// with `ldap: true`, whose appliances log them in against it.
	Directory Directory
	// Cgroups, when set, confines each student to a cgroup of their own
	// (limits.go); Limits are the site's defaults of a workshop's limits.
	Cgroups *cgroup.Manager
	Limits  wod.Limits
	// Content, when set, gives each job its content directories (the
	// server's commits of the content repositories); else Workshops,
	// Hooks and Compiler use their own Dirs.
	Content ContentSource
	// StateDir holds the hooks' variable files while a create runs.
	StateDir string
	Logger   *slog.Logger

	pre preStarts
	// creating counts the creates under way: pre-starts wait for a burst of
	// them to pass (busy).
	creating busy
}

var _ BackgroundOperator = (*HubOperator)(nil)

// Run performs one job.
func (o *HubOperator) Run(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	if j.StudentNumber < 1 || j.Username != wod.StudentUsername(j.StudentNumber) {
		return Outcome{}, fmt.Errorf("job %d names seat %q (number %d): refused", j.ID, j.Username, j.StudentNumber)
	}
	switch j.Kind {
	case wod.JobCreate:
		ctx, err := o.jobContent(ctx, j)
		if err != nil {
			return Outcome{}, err
		}
		return o.create(ctx, j)
	case wod.JobWarm:
		return o.warm(ctx, j)
	case wod.JobCleanup:
		return o.cleanup(ctx, j)
	case wod.JobReset:
		return o.reset(ctx, j)
	case wod.JobPurge:
		return Outcome{}, o.purge(ctx, j)
	}
	return Outcome{}, Unsupported(j.Kind)
}

func mode(j *wod.AgentJob) string { return content.Mode(j.SessionType) }

// hookEnv describes the seat to the cleanup and reset hooks. The
// appliance's address was checked at create; should the configuration have
// lost it since, the hooks run without it rather than leave the seat
// stuck, and say so.
func (o *HubOperator) hookEnv(j *wod.AgentJob, a Account) HookEnv {
	target, err := content.ApplianceTarget(o.Vars, j.Workshop, j.Appliance, j.StudentNumber, j.SeatMin)
	if err != nil && o.Logger != nil {
		o.Logger.Warn("hooks run without the appliance's address", "workshop", j.Workshop, "error", err)
	}
	return HookEnv{Workshop: j.Workshop, Student: j.StudentNumber, Username: a.Name, Home: a.Home, Mode: mode(j),
		Appliance: target}
}

// create prepares a seat from scratch: a clean home, a new password, the
// rendered workshop, the hub user and, optionally, a running server.
func (o *HubOperator) create(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	defer o.creating.begin()()
	out, err := o.prepare(ctx, j)
	if err == nil && o.PreStart {
		// The credentials go out now; the server warms up meanwhile, so that
		// it is running by the time the participant logs in. Waiting for it
		// would hold a burst of registrations behind a burst of spawns
		// (docs/benchmarks.md: 100 at once, 5 s instead of 66 s).
		o.askPreStart(j.Username)
	}
	return out, err
}

// warm prepares a seat for a workshop's warm pool (wod.WarmPool) as create
// does, without a participant, and starts its server before it reports
// (nobody waits for a warm seat: its server should be up when the seat is
// taken), unless WarmServer is off. The spawns share the pre-starts'
// slots, so that refilling a pool cannot become a burst of spawns.
func (o *HubOperator) warm(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	out, err := o.prepare(ctx, j)
	if err != nil || !o.WarmServer {
		return out, err
	}
	slots := o.preStartSlots()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return Outcome{Output: out.Output}, ctx.Err()
	}
	if err := o.Hub.StartServer(ctx, j.Username); err != nil {
		// Not fatal, as for a pre-start: the seat is ready but for its
		// server, which the hub starts at the participant's login; failing
		// the job would throw the rest away and spawn again under the same
		// load.
		if o.Logger != nil {
			o.Logger.Warn("the warm seat's server did not start; it will start at the login", "student", j.Username, "error", err)
		}
		out.Output = joinOutput(out.Output, "the server did not start (it will at the login): "+err.Error())
	}
	return out, nil
}

// prepare makes the seat: a clean home, a new password, the rendered
// workshop and the hub user (create's and warm's common work).
func (o *HubOperator) prepare(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	// Before touching the seat: an appliance workshop without its
	// appliance's address cannot be set up.
	target, err := content.ApplianceTarget(o.Vars, j.Workshop, j.Appliance, j.StudentNumber, j.SeatMin)
	if err != nil {
		return Outcome{}, err
	}
	var out strings.Builder
	a, err := o.Host.EnsureAccount(ctx, j.StudentNumber)
	if err != nil {
		return Outcome{}, err
	}
	// A seat starts from a lock too, not only ends with one: the seat may
	// have been freed by a wod from before the hub user was re-made at
	// every lock, or by hand, and must not let its last holder in.
	locked, _, err := o.lock(ctx, j, a)
	if err != nil {
		return Outcome{Output: locked}, err
	}
	if locked != "" {
		out.WriteString(locked + "\n")
	}
	if err := o.confine(j, a); err != nil {
		return Outcome{}, err
	}
	if err := o.Host.Wipe(ctx, a); err != nil {
		return Outcome{}, err
	}
	// The workshop's own limit, else the site's (Host.DiskLimit).
	if err := o.Host.ApplyDiskLimit(ctx, a, j.Limits.Disk); err != nil {
		return Outcome{}, err
	}
	if err := o.Host.Populate(a); err != nil {
		return Outcome{}, err
	}
	password := secret.StudentPassword()
	if err := o.Host.SetPassword(ctx, a, password); err != nil {
		return Outcome{}, err
	}
	if j.LDAP {
		if o.Directory == nil {
			return Outcome{}, fmt.Errorf("workshop %s logs students in with LDAP (ldap: true), and this agent has no --ldap-url", j.Workshop)
		}
		if err := o.Directory.SetPassword(ctx, j.StudentNumber, password); err != nil {
			return Outcome{}, err
		}
	}
	varsFile, err := o.varsFile(j)
	if err != nil {
		return Outcome{}, err
	}
	defer os.Remove(varsFile)
	env := HookEnv{Workshop: j.Workshop, Student: j.StudentNumber, Username: a.Name, Home: a.Home, Password: password,
		Mode: mode(j), VarsFile: varsFile, Appliance: target}
	hookOut, err := o.Hooks.Run(ctx, StageCreate, env)
	out.WriteString(hookOut)
	if err != nil {
		return Outcome{Output: out.String()}, err
	}
	hookVars, err := content.ReadVarsFile(varsFile)
	if err != nil {
		return Outcome{Output: out.String()}, err
	}
	// Defaults, configuration, the seat's ports, the hooks' variables and
	// the seat's own values, in rising precedence.
	vars, err := content.BuildVars(o.Vars, hookVars, content.Student{Number: j.StudentNumber, Password: password,
		Session: j.SessionType, Workshop: j.Workshop, SeatMin: j.SeatMin, Appliance: target})
	if err != nil {
		return Outcome{Output: out.String()}, err
	}
	if err := o.Workshops.Deploy(ctx, j.Workshop, a.Home, vars); err != nil {
		return Outcome{Output: out.String()}, err
	}
	hookOut, err = o.Hooks.Run(ctx, StagePostCopy, env)
	out.WriteString(hookOut)
	if err != nil {
		return Outcome{Output: out.String()}, err
	}
	if err := o.Host.Own(a); err != nil {
		return Outcome{Output: out.String()}, err
	}
	if len(j.Compile) > 0 {
		// After Own: the executables stay root's (see Compiler).
		if o.Compiler == nil {
			return Outcome{Output: out.String()}, fmt.Errorf("%s compiles scripts but this agent has no compiler", j.Workshop)
		}
		compileOut, err := o.Compiler.Compile(ctx, j.Workshop, j.Compile, vars, a.Home)
		out.WriteString(compileOut)
		if err != nil {
			return Outcome{Output: out.String()}, err
		}
	}
	if err := o.Hub.EnsureUser(ctx, a.Name); err != nil {
		return Outcome{Output: out.String()}, err
	}
	return Outcome{Password: password, Output: out.String()}, nil
}

// cleanup ends the session and measures the work: the seat is locked
// first (see lock), so that the hooks, the completion and the archive read
// a home nobody can change any more. The home is wiped unless the workshop
// keeps it for a reset.
func (o *HubOperator) cleanup(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	a := o.Host.Account(j.StudentNumber)
	locked, password, err := o.lock(ctx, j, a)
	if err != nil {
		return Outcome{Output: locked}, err
	}
	if !j.ReportPassword {
		password = ""
	}
	// The content after the lock: a repository out of reach delays the
	// measure, never the end of the participant's access.
	if ctx, err = o.jobContent(ctx, j); err != nil {
		return Outcome{Output: locked}, err
	}
	out, err := o.Hooks.Run(ctx, StageCleanup, o.hookEnv(j, a))
	out = joinOutput(locked, out)
	if err != nil {
		return Outcome{Output: out}, err
	}
	completion, err := o.Workshops.Completion(ctx, j.Workshop, a.Home, a.UID)
	if err != nil {
		return Outcome{Output: out}, err
	}
	notebooks, err := o.Workshops.Archive(ctx, j.Workshop, a.Home, a.UID)
	if err != nil {
		// The participant loses the download, not their seat's cleanup.
		out += fmt.Sprintf("\nthe notebooks could not be kept: %v", err)
		notebooks = nil
	}
	if !j.Reset {
		if err := o.Host.Wipe(ctx, a); err != nil {
			return Outcome{Output: out}, err
		}
	}
	return Outcome{Password: password, Completion: &completion, Notebooks: notebooks, Output: out}, nil
}

// reset runs the workshop's reset script (appliances) and frees the seat.
func (o *HubOperator) reset(ctx context.Context, j *wod.AgentJob) (Outcome, error) {
	a := o.Host.Account(j.StudentNumber)
	locked, _, err := o.lock(ctx, j, a)
	if err != nil {
		return Outcome{Output: locked}, err
	}
	if ctx, err = o.jobContent(ctx, j); err != nil {
		return Outcome{Output: locked}, err
	}
	out, err := o.Hooks.Run(ctx, StageReset, o.hookEnv(j, a))
	out = joinOutput(locked, out)
	if err != nil {
		return Outcome{Output: out}, err
	}
	return Outcome{Output: out}, o.Host.Wipe(ctx, a)
}

// jobContent gives the job's content directories to its steps (Content),
// or leaves ctx alone without content repositories. A purge needs none.
func (o *HubOperator) jobContent(ctx context.Context, j *wod.AgentJob) (context.Context, error) {
	if o.Content == nil {
		return ctx, nil
	}
	return WithJobContent(ctx, o.Content, j)
}

// purge takes a seat back whatever state it is in.
func (o *HubOperator) purge(ctx context.Context, j *wod.AgentJob) error {
	a := o.Host.Account(j.StudentNumber)
	if _, _, err := o.lock(ctx, j, a); err != nil {
		return err
	}
	return o.Host.Wipe(ctx, a)
}

// lock ends every way into the account, so that the next participant on
// the seat inherits nothing of this one: the server stops, the hub user is
// deleted and made again (a kept login cookie or an API token dies with
// the old one: JupyterHub never rotates a user's cookie_id, and a PAM
// password change ends no session), the password becomes one nobody
// knows, the processes die, and what the uid left outside the home (cron
// and at jobs, temporary files, IPC objects) goes. It returns what it
// removed, for the job's output, and the new password (see
// AgentJob.ReportPassword).
func (o *HubOperator) lock(ctx context.Context, j *wod.AgentJob, a Account) (string, string, error) {
	o.cancelPreStart(a.Name)
	if err := o.stop(ctx, a); err != nil {
		return "", "", err
	}
	if err := o.Hub.DeleteUser(ctx, a.Name); err != nil {
		return "", "", fmt.Errorf("delete the hub user %s: %w", a.Name, err)
	}
	password := secret.StudentPassword()
	if err := o.Host.SetPassword(ctx, a, password); err != nil {
		return "", "", err
	}
	if j.LDAP && o.Directory != nil {
		// The appliances' password goes too.
		if err := o.Directory.SetPassword(ctx, j.StudentNumber, secret.StudentPassword()); err != nil {
			return "", "", err
		}
	}
	// A cron job could have started between the kill and the removal of
	// the crontab: kill, remove, kill again.
	if _, err := o.Host.KillProcesses(ctx, a); err != nil {
		return "", "", err
	}
	removed, err := o.Host.RemoveTraces(ctx, a)
	if err != nil {
		return "", "", err
	}
	if _, err := o.Host.KillProcesses(ctx, a); err != nil {
		return "", "", err
	}
	if err := o.Hub.EnsureUser(ctx, a.Name); err != nil {
		return "", "", fmt.Errorf("hub user %s: %w", a.Name, err)
	}
	if len(removed) == 0 {
		return "", password, nil
	}
	return "removed what " + a.Name + " left outside the home:\n  " + strings.Join(removed, "\n  "), password, nil
}

// joinOutput joins the outputs of two steps of an operation.
func joinOutput(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "\n" + b
}

// stop stops the student's server and kills whatever runs as them.
func (o *HubOperator) stop(ctx context.Context, a Account) error {
	// JupyterHub 3.0 answers 500 to stopping the server of a user it does
	// not know: make sure it knows the student first (idempotent).
	if err := o.Hub.EnsureUser(ctx, a.Name); err != nil {
		return fmt.Errorf("hub user %s: %w", a.Name, err)
	}
	if err := o.Hub.StopServer(ctx, a.Name); err != nil {
		return fmt.Errorf("stop the server of %s: %w", a.Name, err)
	}
	// The cgroup first: it holds a fork bomb's every process, bounded by the
	// task limit, which a kill by uid can chase for long; the uid then
	// catches what escaped the group.
	if err := o.release(ctx, a); err != nil {
		return err
	}
	_, err := o.Host.KillProcesses(ctx, a)
	return err
}

func (o *HubOperator) varsFile(j *wod.AgentJob) (string, error) {
	dir := o.StateDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "vars-"+j.Workshop+"-"+strconv.Itoa(j.StudentNumber)+"-*.yml")
	if err != nil {
		return "", err
	}
	f.Close()
	return filepath.Clean(f.Name()), nil
}
