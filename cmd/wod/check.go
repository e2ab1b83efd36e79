package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/preflight"
)

func checkCmd(e *env) *cobra.Command {
	role := config.RoleUp
	cmd := &cobra.Command{
		Use:   "check [--role up|server|agent]",
		Short: "Check that this machine and configuration can run a role, changing nothing",
		Long: "Checks, with the same flags as the role itself: the data directory and keys, the database and its\n" +
			"schema, the SMTP relay (it connects and logs in, it sends nothing), the public URL, the content\n" +
			"(every workshop rendered for a sample student), and for the agent: root, the system tools, the\n" +
			"JupyterHub installation or the external hub and its token, the student accounts' uid range, the\n" +
			"student homes, free disk space, the disk limit per student (btrfs subvolumes or user quotas) and,\n" +
			"for wod agent, the server and the agent token. Nothing is\n" +
			"created or migrated. Exit status 1 if a check fails: run it before an event.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch role {
			case config.RoleUp, config.RoleServer, config.RoleAgent:
			default:
				return fmt.Errorf("--role %q: want up, server or agent", role)
			}
			a := &app.App{Config: &e.cfg, Logger: app.NewLogger(&e.cfg, e.stderr), Stderr: e.stderr}
			failed := 0
			for _, c := range a.Preflight(cmd.Context(), role) {
				lines := strings.Split(c.Detail, "\n")
				fmt.Fprintf(e.stdout, "%-4s  %-17s %s\n", c.Status, c.Name, lines[0])
				for _, l := range lines[1:] {
					fmt.Fprintf(e.stdout, "%24s%s\n", "", l)
				}
				if c.Status == preflight.Fail {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d checks failed", failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", role, "what this machine runs: up (all-in-one), server or agent")
	return uses(cmd, config.AllRoles()...)
}
