// Package install sets a machine up to run one of wod's roles as a systemd
// service: the distribution's packages the role needs, the binary, a
// configuration file with the settings given to `wod install`, wod's
// kernelspecs, the sysctls, the unit, and for the server its unprivileged
// user (and with --postgres its database).
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/kernel"
)

// Service describes how to set this machine up to run a role as a systemd
// service: the distribution's packages the role needs, the binary, a
// configuration file with the settings given to `wod install`, wod's
// kernelspecs, the sysctls and the unit. Each step is planned by comparing
// what is there with what should be, so that a second run changes nothing
// and says so, and DryRun prints the plan and changes nothing.
type Service struct {
	Role string // up, server or agent
	// Settings are the configuration file's keys (flag names) and values:
	// a string, or a list for a repeatable flag.
	Settings map[string]any
	// Data is the data directory, which a server running as the wod user
	// must own.
	Data string
	// Binary is the executable to install; Bin is where it goes.
	Binary, Bin string
	// DestDir, when set, is the root of the machine being set up (a
	// chroot, a image being built): the files go under it (DestDir/etc/…),
	// its dpkg database says which packages it lacks and they are installed
	// with chroot DestDir apt-get; nothing else is touched: no user, no
	// ownership, no systemctl.
	DestDir string
	// KernelspecDir, for the roles that run an agent (up, agent), is where
	// wod's kernelspecs go (under DestDir when set); "" writes none.
	// KernelBinary is the wod they run (default Bin, the installed one).
	KernelspecDir, KernelBinary string
	// StudentRoot is where the students' homes go: its filesystem decides
	// the disk-limit tools (btrfs-progs or quota).
	StudentRoot string
	// Packages installs the packages the role lacks (apt-get).
	Packages bool
	// Postgres installs PostgreSQL for the server and creates its role and
	// database, reached over the local socket.
	Postgres bool
	// DryRun prints the plan and changes nothing.
	DryRun bool
	// Start enables and starts the service once written.
	Start bool
	Out   io.Writer
}

// Where the service's files go.
const (
	configDir   = "/etc/wod"
	unitDir     = "/etc/systemd/system"
	sysctlFile  = "/etc/sysctl.d/90-wod.conf"
	serviceUser = "wod"
	// PostgresDSN is the server's database with --postgres: the local
	// socket, as the wod user (peer authentication).
	PostgresDSN = "postgres:///wod?host=/var/run/postgresql"
)

// ConfigPath is the configuration file of the role's service.
func (in *Service) ConfigPath() string { return filepath.Join(configDir, in.Role+".yml") }

// UnitName is the role's systemd unit.
func (in *Service) UnitName() string { return "wod-" + in.Role + ".service" }

// root reports whether the role runs as root: the agent manages Unix
// accounts; the server alone runs as the unprivileged wod user.
func (in *Service) root() bool { return in.Role != config.RoleServer }

// system reports whether this machine itself is set up (no DestDir).
func (in *Service) system() bool { return in.DestDir == "" }

// Step is one change the installation makes.
type Step struct {
	What string
	Do   func(ctx context.Context) error
}

// Run plans the installation and, unless DryRun, carries it out.
func (in *Service) Run(ctx context.Context) error {
	switch in.Role {
	case config.RoleUp, config.RoleServer, config.RoleAgent:
	default:
		return fmt.Errorf("install: role %q: want up, server or agent", in.Role)
	}
	if in.Postgres && in.Role != config.RoleServer {
		return fmt.Errorf("install: --postgres is for --role server (wod %s keeps its SQLite database)", in.Role)
	}
	if !in.DryRun && in.system() && os.Geteuid() != 0 {
		return errors.New("install: writing /etc and the systemd unit needs root: use sudo (or --root to set up another tree, --dry-run to see the plan)")
	}
	steps, notes, err := in.Plan(ctx)
	if err != nil {
		return err
	}
	where := "this machine"
	if !in.system() {
		where = in.DestDir
	}
	for _, n := range notes {
		fmt.Fprintf(in.Out, "note: %s\n", n)
	}
	if len(steps) == 0 {
		fmt.Fprintf(in.Out, "nothing to change: %s is set up for wod %s\n", where, in.Role)
		return nil
	}
	if in.DryRun {
		fmt.Fprintf(in.Out, "plan for wod %s on %s (dry run: nothing changed):\n", in.Role, where)
		for i, s := range steps {
			fmt.Fprintf(in.Out, "%2d. %s\n", i+1, s.What)
		}
		return nil
	}
	for _, s := range steps {
		fmt.Fprintf(in.Out, "%s\n", s.What)
		if err := s.Do(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(in.Out, "%s is set up for wod %s (%d changes)\n", where, in.Role, len(steps))
	return nil
}

// Plan lists the steps that would bring the machine to the role, and
// notes on what it leaves to the operator. It changes nothing.
func (in *Service) Plan(ctx context.Context) (steps []Step, notes []string, err error) {
	add := func(what string, do func(context.Context) error) { steps = append(steps, Step{What: what, Do: do}) }
	_, externalHub := in.Settings["hub-api"]
	// installingHub: Debian's jupyterhub comes with a service of its own,
	// enabled, which must make way for wod's hub once installed.
	installingHub := false
	if in.Postgres {
		if _, ok := in.Settings["db"]; !ok {
			in.Settings["db"] = PostgresDSN
		}
	}
	if in.Packages {
		status := in.dest("/var/lib/dpkg/status")
		installed, ok := dpkgInstalled(status)
		root := in.StudentRoot
		if root == "" {
			root = "/student"
		}
		need := rolePackages(in.Role, externalHub, isBtrfs(in.dest(root)), in.Postgres, installed)
		switch lack := missing(need, installed); {
		case !ok:
			notes = append(notes, fmt.Sprintf("no dpkg database at %s: install %s with the system's tools",
				status, strings.Join(names(need), ", ")))
		case len(lack) > 0:
			var why []string
			for _, p := range lack {
				why = append(why, p.Name+" ("+p.Why+")")
				installingHub = installingHub || p.Name == "jupyterhub"
			}
			add("install packages: "+strings.Join(why, ", "), func(ctx context.Context) error {
				return in.aptInstall(ctx, names(lack))
			})
		}
	}
	// The server's unprivileged user, on this machine or in the tree
	// (created with the tree's own useradd: its ids are its own).
	serviceAccount := false
	if !in.root() {
		_, _, err := in.account(serviceUser)
		switch {
		case err == nil:
			serviceAccount = true
		case in.system():
			serviceAccount = true
			add("create the system user "+serviceUser, ensureServiceUser)
		case in.canAddUsers():
			serviceAccount = true
			add("create the system user "+serviceUser+" in "+in.DestDir, func(ctx context.Context) error {
				return in.inRoot(ctx, useraddArgs()...)
			})
		default:
			notes = append(notes, fmt.Sprintf("no useradd in %s: create the system user %s there, owner of %s",
				in.DestDir, serviceUser, in.Data))
		}
	}
	if !same(in.Binary, in.dest(in.Bin)) && !sameContent(in.Binary, in.dest(in.Bin)) {
		add("install the binary at "+in.dest(in.Bin), func(context.Context) error { return in.installBinary() })
	}
	if in.root() && in.KernelspecDir != "" {
		var changes []string
		for _, k := range kernel.Pending(in.dest(in.KernelspecDir), in.kernelBinary()) {
			switch k.Action {
			case kernel.Created, kernel.Updated:
				changes = append(changes, k.Name)
			case kernel.SiteKernel:
				notes = append(notes, fmt.Sprintf("the site's own kernel %s is kept (%s)", k.Name, k.Path))
			}
		}
		if len(changes) > 0 {
			add(fmt.Sprintf("write wod's kernelspecs %s in %s", strings.Join(changes, ", "), in.dest(in.KernelspecDir)),
				func(context.Context) error { return in.installKernels() })
		}
	}
	cfg, err := in.configFile()
	if err != nil {
		return nil, nil, err
	}
	cfgMode := os.FileMode(0o600)
	if serviceAccount {
		cfgMode = 0o640 // the service's group reads it
	}
	if !unchanged(in.dest(in.ConfigPath()), cfg, cfgMode) {
		add("write the configuration "+in.dest(in.ConfigPath()), func(context.Context) error {
			if err := in.write(in.ConfigPath(), cfg, 0o600); err != nil {
				return err
			}
			if serviceAccount {
				// It may hold secrets (SMTP password): the service's group only.
				_, gid, err := in.account(serviceUser)
				if err != nil {
					return err
				}
				return chownTo(in.dest(in.ConfigPath()), 0, gid, 0o640)
			}
			return nil
		})
	}
	if in.root() {
		if want := sysctlConf(); !unchanged(in.dest(sysctlFile), want, 0o644) {
			add("write the sysctls the students' host needs "+in.dest(sysctlFile), func(ctx context.Context) error {
				if err := in.write(sysctlFile, want, 0o644); err != nil {
					return err
				}
				if in.system() {
					if out, err := exec.CommandContext(ctx, "sysctl", "-p", sysctlFile).CombinedOutput(); err != nil {
						// A container may not set them: the daily check says which.
						fmt.Fprintf(in.Out, "  (not applied now: %s)\n", bytes.TrimSpace(out))
					}
				}
				return nil
			})
		}
	}
	unit, err := in.unit()
	if err != nil {
		return nil, nil, err
	}
	unitPath := filepath.Join(unitDir, in.UnitName())
	unitChanged := !unchanged(in.dest(unitPath), unit, 0o644)
	if unitChanged {
		add("write the systemd unit "+in.dest(unitPath), func(ctx context.Context) error {
			if err := in.write(unitPath, unit, 0o644); err != nil {
				return err
			}
			if in.system() && systemdRunning() {
				return systemctl(ctx, "daemon-reload")
			}
			return nil
		})
	}
	if serviceAccount && in.Data != "" && !in.ownedBy(in.dest(in.Data), serviceUser, 0o700) {
		add(fmt.Sprintf("give the data directory %s to %s", in.dest(in.Data), serviceUser), func(context.Context) error {
			if err := os.MkdirAll(in.dest(in.Data), 0o700); err != nil {
				return fmt.Errorf("install: %w", err)
			}
			uid, gid, err := in.account(serviceUser)
			if err != nil {
				return err
			}
			return chownTree(in.dest(in.Data), uid, gid)
		})
	}
	if in.Postgres {
		steps = append(steps, in.postgresSteps(ctx)...)
	}
	if !in.system() {
		if in.Postgres {
			notes = append(notes, fmt.Sprintf("no PostgreSQL runs in %s: its role and database %s are created by "+
				"wod install --role server --postgres run on the machine it becomes", in.DestDir, serviceUser))
		}
		if in.root() && !externalHub && (installingHub || in.enabledInRoot("jupyterhub.service")) {
			add("disable the distribution's jupyterhub service in "+in.DestDir+" (wod manages its own hub)",
				in.disableDistributionHub)
		}
		if in.Start && !in.enabledInRoot(in.UnitName()) {
			add("enable "+in.UnitName()+" in "+in.DestDir+" (it starts when the tree boots)", func(context.Context) error {
				return in.enableInRoot(in.UnitName())
			})
		}
		return steps, notes, nil
	}
	if !systemdRunning() {
		notes = append(notes, fmt.Sprintf("systemd is not running here: start the service with %s %s --config %s",
			in.Bin, in.Role, in.ConfigPath()))
		return steps, notes, nil
	}
	if in.root() && !externalHub && (installingHub ||
		exec.CommandContext(ctx, "systemctl", "is-enabled", "--quiet", "jupyterhub").Run() == nil) {
		// Debian's package starts a hub of its own on port 8000; wod runs
		// its own in its place.
		add("disable the distribution's jupyterhub service (wod manages its own hub)", func(ctx context.Context) error {
			return systemctl(ctx, "disable", "--now", "jupyterhub")
		})
	}
	if !in.Start {
		notes = append(notes, "start it with: systemctl enable --now "+in.UnitName())
		return steps, notes, nil
	}
	enabled := exec.CommandContext(ctx, "systemctl", "is-enabled", "--quiet", in.UnitName()).Run() == nil
	active := exec.CommandContext(ctx, "systemctl", "is-active", "--quiet", in.UnitName()).Run() == nil
	switch {
	case !enabled || !active:
		add("enable and start "+in.UnitName(), func(ctx context.Context) error {
			if err := systemctl(ctx, "enable", "--now", in.UnitName()); err != nil {
				return err
			}
			fmt.Fprintf(in.Out, "%s is running: journalctl -u %s -f\n", in.UnitName(), in.UnitName())
			return nil
		})
	case unitChanged || len(steps) > 0:
		add("restart "+in.UnitName()+" with what changed", func(ctx context.Context) error {
			return systemctl(ctx, "restart", in.UnitName())
		})
	}
	return steps, notes, nil
}

// sysctlConf are the sysctls a host of students needs (what the daily
// check looks at).
func sysctlConf() []byte {
	return []byte("# Written by wod install: what a host of students needs (wod check looks at them).\n" +
		"fs.protected_symlinks = 1\nfs.protected_hardlinks = 1\nkernel.pid_max = 4194304\n" +
		"fs.inotify.max_user_watches = 524288\nfs.inotify.max_user_instances = 8192\n")
}

// aptInstall installs packages from the distribution, in DestDir's root
// when set.
func (in *Service) aptInstall(ctx context.Context, pkgs []string) error {
	run := func(args ...string) error {
		if !in.system() {
			args = append([]string{"chroot", in.DestDir}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = in.Out, in.Out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("install: %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	if !in.system() {
		restore, err := in.forbidServiceStarts()
		if err != nil {
			return err
		}
		defer restore()
	}
	// Offline, apt-get update warns and keeps the lists it has: what is
	// in the apt cache still installs.
	if err := run("apt-get", "update", "-q"); err != nil {
		return err
	}
	return run(append([]string{"apt-get", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)...)
}

// postgresSteps create the wod role and database, reached over the local
// socket by the wod user (peer authentication: no password to keep).
func (in *Service) postgresSteps(ctx context.Context) []Step {
	if !in.system() {
		return nil
	}
	psql := func(ctx context.Context, sql string) (string, error) {
		out, err := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", "psql", "-tAc", sql).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if n, err := psql(ctx, "SELECT count(*) FROM pg_database WHERE datname = '"+serviceUser+"'"); err == nil && n == "1" {
		return nil
	}
	return []Step{{What: "create the PostgreSQL role and database " + serviceUser + " (peer authentication over the local socket)",
		Do: func(ctx context.Context) error {
			if n, _ := psql(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = '"+serviceUser+"'"); n != "1" {
				if out, err := psql(ctx, "CREATE ROLE "+serviceUser+" LOGIN"); err != nil {
					return fmt.Errorf("install: creating the PostgreSQL role: %v: %s", err, out)
				}
			}
			if out, err := psql(ctx, "CREATE DATABASE "+serviceUser+" OWNER "+serviceUser); err != nil {
				return fmt.Errorf("install: creating the PostgreSQL database: %v: %s", err, out)
			}
			return nil
		}}}
}

func (in *Service) kernelBinary() string {
	if in.KernelBinary != "" {
		return in.KernelBinary
	}
	return in.Bin
}

func systemdRunning() bool {
	_, err := exec.LookPath("systemctl")
	return err == nil && isDir("/run/systemd/system")
}

// unchanged reports whether path holds data with mode already.
func unchanged(path string, data []byte, mode os.FileMode) bool {
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != mode {
		return false
	}
	old, err := os.ReadFile(path)
	return err == nil && bytes.Equal(old, data)
}

func sameContent(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	if err1 != nil || err2 != nil || ia.Size() != ib.Size() || ib.Mode().Perm() != 0o755 {
		return false
	}
	da, err1 := os.ReadFile(a)
	db, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

// ownedBy reports whether dir belongs to owner with mode.
func (in *Service) ownedBy(dir, owner string, mode os.FileMode) bool {
	info, err := os.Stat(dir)
	uid, _, uerr := in.account(owner)
	if err != nil || uerr != nil || info.Mode().Perm() != mode {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}

// configFile renders the settings as the YAML file --config reads.
func (in *Service) configFile() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# wod %s: written by wod install. Keys are the flags of `wod %s --help`;\n", in.Role, in.Role)
	b.WriteString("# WOD_* environment variables and flags override them.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(in.Settings); err != nil {
		return nil, fmt.Errorf("install: configuration: %w", err)
	}
	return b.Bytes(), enc.Close()
}

var unitTemplate = template.Must(template.New("unit").Parse(`[Unit]
Description=Workshops-on-Demand ({{.Role}})
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
ExecStart={{.Bin}} {{.Role}} --config {{.Config}}
Restart=on-failure
RestartSec=2s
TimeoutStopSec=60
{{- if .Root}}
# Only wod gets the stop signal: it stops the hub, and the students' servers
# outlive the restart (the next hub takes them over), so participants keep
# their kernels through an upgrade.
KillMode=process
# The students' servers inherit the hub's limits: notebooks open many files.
LimitNOFILE=65536
{{- else}}
User={{.User}}
Group={{.User}}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths={{.Data}}
{{- end}}

[Install]
WantedBy=multi-user.target
`))

func (in *Service) unit() ([]byte, error) {
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, map[string]any{"Role": in.Role, "Bin": in.Bin, "Config": in.ConfigPath(),
		"Root": in.root(), "User": serviceUser, "Data": in.Data})
	if err != nil {
		return nil, fmt.Errorf("install: unit: %w", err)
	}
	return b.Bytes(), nil
}

// installBinary copies the running executable to Bin, unless it is there.
func (in *Service) installBinary() error {
	dst := in.dest(in.Bin)
	if same(in.Binary, dst) {
		return nil
	}
	exe, err := os.ReadFile(in.Binary)
	if err != nil {
		return fmt.Errorf("install: reading the binary: %w", err)
	}
	return in.write(in.Bin, exe, 0o755)
}

// write writes a file (under DestDir) atomically, creating its directory.
func (in *Service) write(path string, data []byte, mode os.FileMode) error {
	path = in.dest(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("install: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("install: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintf(in.Out, "wrote %s\n", path)
	return nil
}

func (in *Service) dest(path string) string {
	if in.DestDir == "" {
		return path
	}
	return filepath.Join(in.DestDir, path)
}

func same(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// useraddArgs create the server's unprivileged system user.
func useraddArgs() []string {
	return []string{"useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", serviceUser}
}

func ensureServiceUser(ctx context.Context) error {
	if _, err := user.Lookup(serviceUser); err == nil {
		return nil
	}
	args := useraddArgs()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("install: creating the %s user: %v: %s", serviceUser, err, bytes.TrimSpace(out))
	}
	return nil
}

func chownTo(path string, uid, gid int, mode os.FileMode) error {
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

// chownTree gives the directory and what it holds to the user (the data
// directory of an earlier run as root included), without following links.
func chownTree(dir string, uid, gid int) error {
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("install: giving %s to %s: %w", dir, serviceUser, err)
	}
	return os.Chmod(dir, 0o700)
}

func systemctl(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("install: systemctl %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// installKernels writes wod's kernelspecs for a role that runs an agent,
// for a hub the agent does not manage (--hub-api) as much as for its own;
// the agent rewrites them at each start. A site's own kernel of the same
// name is left alone.
func (in *Service) installKernels() error {
	if !in.root() || in.KernelspecDir == "" {
		return nil
	}
	done, err := kernel.Install(in.dest(in.KernelspecDir), in.kernelBinary())
	for _, k := range done {
		switch k.Action {
		case kernel.SiteKernel:
			fmt.Fprintf(in.Out, "kept the site's own kernel %s (%s runs %s)\n", k.Name, k.Path, k.Argv0)
		case kernel.Unchanged:
		default:
			fmt.Fprintf(in.Out, "%s kernelspec %s\n", k.Action, k.Path)
		}
	}
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}
