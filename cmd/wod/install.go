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
	in := &install.Service{Role: config.RoleUp, Bin: "/usr/local/bin/wod", Start: true}
	cmd := &cobra.Command{
		Use:   "install [--role up|server|agent] [flags of the role]",
		Short: "Set this machine up to run a role as a systemd service",
		Long: "Installs the binary (--bin), writes /etc/wod/<role>.yml with the flags given here (and the WOD_*\n" +
			"variables set), and the systemd unit wod-<role>.service, then enables and starts it (--start=false to\n" +
			"only write). The server runs as the unprivileged user wod, which install creates and which owns\n" +
			"--data; up and agent run as root, and their unit lets the students' servers outlive a restart.\n" +
			"Example: sudo wod install --role server --db postgres://wod@db/wod --public-url https://wod.example.com",
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
			in.Settings = map[string]any{"data": e.cfg.Data}
			// The kernelspecs run the installed binary, unless told otherwise.
			in.KernelspecDir = e.cfg.Agent.KernelspecDir
			if cmd.Flags().Changed("kernel-binary") || os.Getenv(config.EnvName("kernel-binary")) != "" {
				in.KernelBinary = e.cfg.Agent.KernelBinary
			}
			cmd.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) {
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
	cmd.Flags().StringVar(&in.DestDir, "dest-dir", "", "write the files under this directory and touch nothing else (packaging)")
	cmd.Flags().BoolVar(&in.Start, "start", in.Start, "enable and start the service")
	return cmd
}
