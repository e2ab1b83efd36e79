package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/content"
)

func serverCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: portal, admin UI, REST API and lifecycle engine",
		Long: "Runs the server role. It migrates the database, imports the --content directories if any,\n" +
			"and serves on --addr. On PostgreSQL several servers may share one database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := e.openServer(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			if len(e.cfg.Content) > 0 {
				if _, err := importAndReport(ctx, a, e.cfg.Content, ""); err != nil {
					return err
				}
			}
			ln, err := a.Listen()
			if err != nil {
				return err
			}
			return a.Serve(ctx, ln)
		},
	}
}

func upCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Run everything on this machine, with no configuration needed",
		Long: "Runs the all-in-one: the server with an embedded SQLite database in --data, a location named\n" +
			"\"local\" with --students seats, and the bundled sample workshop (or your --content). On first start\n" +
			"it creates the user admin and writes its password to <data>/initial-admin-password.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := e.openServer(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			if _, err := a.EnsureLocalLocation(ctx); err != nil {
				return err
			}
			dirs := e.cfg.Content
			if len(dirs) == 0 {
				sample := filepath.Join(e.cfg.Data, "content", "sample")
				if err := content.ExtractSample(sample); err != nil {
					return err
				}
				dirs = []string{sample}
			}
			if _, err := importAndReport(ctx, a, dirs, app.LocalLocation); err != nil {
				return err
			}
			adminFile, err := a.EnsureAdmin(ctx)
			if err != nil {
				return err
			}
			ln, err := a.Listen()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "\nwod is up: API %s/api/v1  documentation %s/api/docs\n", e.cfg.PublicURL, e.cfg.PublicURL)
			if adminFile != "" {
				fmt.Fprintf(e.stderr, "Log in as admin with the password in %s (created now, shown nowhere else).\n", adminFile)
			}
			fmt.Fprintln(e.stderr)
			return a.Serve(ctx, ln)
		},
	}
}

func agentCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "agent",
		Short: "Run the agent of a JupyterHub host (location)",
		Long: "The agent prepares student accounts and notebooks on a JupyterHub host for the server. It is not\n" +
			"part of this build yet: until it lands, registrations are booked and stay pending.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("the agent role is not part of this build yet; registrations stay pending until it is")
		},
	}
}

func versionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		// No configuration needed to print a version.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(e.stdout, "wod", app.Version)
		},
	}
}
