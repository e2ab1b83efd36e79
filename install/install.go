// Package install sets a machine up to run one of wod's roles as a systemd
// service: the binary, a configuration file with the settings given to
// `wod install`, the unit, and for the server its unprivileged user.
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
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/kernel"
)

// Service describes how to set this machine up to run a role as a systemd
// service: the binary, a configuration file with the settings given to
// `wod install`, and the unit.
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
	// DestDir, when set, receives the files (as DestDir/etc/…) and nothing
	// else on the system is touched: no user, no ownership, no systemctl.
	// For packaging and tests.
	DestDir string
	// KernelspecDir, for the roles that run an agent (up, agent), is where
	// wod's kernelspecs go (under DestDir when set); "" writes none.
	// KernelBinary is the wod they run (default Bin, the installed one).
	KernelspecDir, KernelBinary string
	// Start enables and starts the service once written.
	Start bool
	Out   io.Writer
}

// Where the service's files go.
const (
	configDir   = "/etc/wod"
	unitDir     = "/etc/systemd/system"
	serviceUser = "wod"
)

// ConfigPath is the configuration file of the role's service.
func (in *Service) ConfigPath() string { return filepath.Join(configDir, in.Role+".yml") }

// UnitName is the role's systemd unit.
func (in *Service) UnitName() string { return "wod-" + in.Role + ".service" }

// root reports whether the role runs as root: the agent manages Unix
// accounts; the server alone runs as the unprivileged wod user.
func (in *Service) root() bool { return in.Role != config.RoleServer }

// Run writes the files and, unless DestDir is set, creates the service user,
// gives it the data directory, and starts the service if asked.
func (in *Service) Run(ctx context.Context) error {
	switch in.Role {
	case config.RoleUp, config.RoleServer, config.RoleAgent:
	default:
		return fmt.Errorf("install: role %q: want up, server or agent", in.Role)
	}
	if in.DestDir == "" && os.Geteuid() != 0 {
		return errors.New("install: writing /etc and the systemd unit needs root: use sudo (or --dest-dir to write the files elsewhere)")
	}
	system := in.DestDir == ""
	if system && !in.root() {
		if err := ensureServiceUser(ctx); err != nil {
			return err
		}
	}
	if err := in.installBinary(); err != nil {
		return err
	}
	if err := in.installKernels(); err != nil {
		return err
	}
	cfg, err := in.configFile()
	if err != nil {
		return err
	}
	if err := in.write(in.ConfigPath(), cfg, 0o600); err != nil {
		return err
	}
	unit, err := in.unit()
	if err != nil {
		return err
	}
	if err := in.write(filepath.Join(unitDir, in.UnitName()), unit, 0o644); err != nil {
		return err
	}
	if system && !in.root() {
		// The configuration may hold secrets (SMTP password): readable by
		// the service's group only; the data directory is the service's.
		if err := chownTo(in.ConfigPath(), "root", serviceUser, 0o640); err != nil {
			return err
		}
		if err := os.MkdirAll(in.Data, 0o700); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		if err := chownTree(in.Data, serviceUser); err != nil {
			return err
		}
	}
	if !system {
		return nil
	}
	if _, err := exec.LookPath("systemctl"); err != nil || !isDir("/run/systemd/system") {
		fmt.Fprintf(in.Out, "systemd is not running here: start the service with %s %s --config %s\n", in.Bin, in.Role, in.ConfigPath())
		return nil
	}
	if in.root() && in.Settings["hub-api"] == nil {
		// Debian's package starts a hub of its own on port 8000; wod runs
		// its own in its place.
		if exec.CommandContext(ctx, "systemctl", "is-enabled", "--quiet", "jupyterhub").Run() == nil {
			fmt.Fprintln(in.Out, "disabling the distribution's jupyterhub service: wod manages its own hub")
			_ = exec.CommandContext(ctx, "systemctl", "disable", "--now", "jupyterhub").Run()
		}
	}
	if err := systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	if !in.Start {
		fmt.Fprintf(in.Out, "start it with: systemctl enable --now %s\n", in.UnitName())
		return nil
	}
	if err := systemctl(ctx, "enable", "--now", in.UnitName()); err != nil {
		return err
	}
	fmt.Fprintf(in.Out, "%s is running: journalctl -u %s -f\n", in.UnitName(), in.UnitName())
	return nil
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

func ensureServiceUser(ctx context.Context) error {
	if _, err := user.Lookup(serviceUser); err == nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", serviceUser).CombinedOutput()
	if err != nil {
		return fmt.Errorf("install: creating the %s user: %v: %s", serviceUser, err, bytes.TrimSpace(out))
	}
	return nil
}

func chownTo(path, owner, group string, mode os.FileMode) error {
	u, err := user.Lookup(owner)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
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
func chownTree(dir, owner string) error {
	u, err := user.Lookup(owner)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("install: giving %s to %s: %w", dir, owner, err)
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
	binary := in.KernelBinary
	if binary == "" {
		binary = in.Bin
	}
	done, err := kernel.Install(in.dest(in.KernelspecDir), binary)
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
