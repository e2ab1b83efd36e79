package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/install"
)

func installCmd(e *env) *cobra.Command {
	var root string
	in := &install.Service{Role: config.RoleUp, Bin: "/usr/local/bin/wod", Start: true, Packages: true}
	cmd := &cobra.Command{
		Use:   "install [--role up|server|agent] [flags of the role]",
		Short: "Set this machine up to run a role as a systemd service",
		Long: "Installs the distribution's packages the role lacks (apt-get: for up and agent JupyterHub and its\n" +
			"python3 kernel, gcc and shc, btrfs-progs or quota for the student root, a time client; PostgreSQL\n" +
			"for a server with --postgres, with its role and database), the binary (--bin), wod's kernelspecs,\n" +
			"/etc/wod/<role>.yml with the flags given here (and the WOD_* variables set), the sysctls a host of\n" +
			"students needs (/etc/sysctl.d/90-wod.conf) and the systemd unit wod-<role>.service, then enables\n" +
			"and starts it (--start=false to only write). Each step is taken only when what is there differs: a\n" +
			"second run changes nothing and says so; --dry-run prints the plan and changes nothing. The server\n" +
			"runs as the unprivileged user wod, which install creates and which owns --data; up and agent run as\n" +
			"root, and their unit lets the students' servers outlive a restart. --root DIR sets up the tree DIR\n" +
			"(a chroot, an image) instead of this machine, with its own tools: its dpkg database and apt-get (no\n" +
			"service of a package starts meanwhile), its /etc, its useradd; the unit is enabled for its boot, and\n" +
			"nothing runs: no systemctl, no PostgreSQL database (created by a run on the machine it becomes).\n" +
			"Example: sudo wod install --role server --postgres --public-url https://wod.example.com",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.Role == config.RoleAgent && (e.cfg.Agent.Server == "" || e.cfg.Agent.Token == "") {
				return fmt.Errorf("install --role agent needs --server and --agent-token (or WOD_SERVER and WOD_AGENT_TOKEN)")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("install: locating this binary: %w", err)
			}
			in.Binary, in.Data, in.Out = exe, e.cfg.Data, e.stdout
			in.StudentRoot = e.cfg.Agent.StudentRoot
			if root != "" {
				if in.DestDir != "" && in.DestDir != root {
					return fmt.Errorf("--root and --dest-dir name the same thing: give one")
				}
				in.DestDir = root
			}
			in.Settings = map[string]any{"data": e.cfg.Data}
			// The kernelspecs run the installed binary, unless told otherwise.
			in.KernelspecDir = e.cfg.Agent.KernelspecDir
			if cmd.Flags().Changed("kernel-binary") || os.Getenv(config.EnvName("kernel-binary")) != "" {
				in.KernelBinary = e.cfg.Agent.KernelBinary
			}
			e.flags.VisitAll(func(f *pflag.Flag) {
				if f.Name == "config" || !cmd.Flags().Changed(f.Name) {
					return
				}
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					in.Settings[f.Name] = sv.GetSlice()
				} else {
					in.Settings[f.Name] = f.Value.String()
				}
			})
			return in.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&in.Role, "role", in.Role, "the role to install: up (all-in-one), server or agent")
	cmd.Flags().StringVar(&in.Bin, "bin", in.Bin, "where the binary goes")
	cmd.Flags().StringVar(&root, "root", "", "set up the tree DIR (a chroot or an image) instead of this machine: its packages, files under it, nothing else touched")
	cmd.Flags().StringVar(&in.DestDir, "dest-dir", "", "the same as --root (packaging)")
	cmd.Flags().BoolVar(&in.DryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&in.Packages, "packages", in.Packages, "install the distribution's packages the role lacks (apt-get)")
	cmd.Flags().BoolVar(&in.Postgres, "postgres", false, "server: install PostgreSQL and create the wod role and database (local socket, peer authentication)")
	cmd.Flags().BoolVar(&in.Start, "start", in.Start, "enable and start the service")
	return uses(cmd, config.AllRoles()...)
}
