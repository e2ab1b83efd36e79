package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/content"
)

func serverCmd(e *env) *cobra.Command {
	return uses(&cobra.Command{
		Use:   "server",
		Short: "Run the control plane: portal, admin UI, REST API and lifecycle engine",
		Long: "Runs the server role. It migrates the database, imports the --content directories if any (with no\n" +
			"location yet, they wait for the first one: wod location add), or\n" +
			"syncs the --content-repo repositories (then every --content-sync and on a push to\n" +
			"/api/v1/content/hook), and serves on --addr. On PostgreSQL several servers may share one database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := e.openServer(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			if len(e.cfg.Content) > 0 && len(e.cfg.ContentRepos) == 0 {
				waiting, err := a.ImportOrWait(ctx, e.cfg.Content)
				if err != nil {
					return err
				}
				if !waiting {
					if _, err := importAndReport(ctx, a, nil, e.cfg.Content, ""); err != nil {
						return err
					}
				}
			}
			if err := a.Build(); err != nil {
				return err
			}
			// The repositories' first sync; on failure the last good
			// content serves, as after any failed sync.
			a.SyncContent(ctx)
			ln, err := a.Listen()
			if err != nil {
				return err
			}
			return a.Serve(ctx, ln)
		},
	}, config.ServerUses...)
}

func upCmd(e *env) *cobra.Command {
	withAgent := true
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything on this machine, with no configuration needed",
		Long: "Runs the all-in-one: the server with an embedded SQLite database in --data, a location named\n" +
			"\"local\" with --students seats, a JupyterHub it manages (listening on --hub-addr), its agent in the\n" +
			"same process, and the bundled sample workshop (or your --content, or the --content-repo repositories,\n" +
			"which the server and the agent share). On first start it creates the\n" +
			"user admin and writes its password to <data>/initial-admin-password. The agent needs root.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if withAgent && os.Geteuid() != 0 {
				return fmt.Errorf("wod up: %w (or run wod up --agent=false for the server alone)", agent.ErrNotRoot)
			}
			a, err := e.openServer(ctx)
			if err != nil {
				return err
			}
			defer a.Close()
			local, err := a.Operator().EnsureLocalLocation(ctx, a.Config.HubURL, a.Config.Students)
			if err != nil {
				return err
			}
			dirs := e.cfg.Content
			repos := len(e.cfg.ContentRepos) > 0
			if len(dirs) == 0 && !repos {
				sample := filepath.Join(e.cfg.Data, "content", "sample")
				if err := content.ExtractSample(sample); err != nil {
					return err
				}
				dirs = []string{sample}
			}
			if !repos {
				if _, err := importAndReport(ctx, a, nil, dirs, local.Name); err != nil {
					return err
				}
			}
			adminFile, err := a.EnsureAdmin(ctx)
			if err != nil {
				return err
			}
			a.ImportLocation = local.Name
			if err := a.Build(); err != nil {
				return err
			}
			// The agent below deploys from the same clones, at the commits
			// this sync imports.
			a.SyncContent(ctx)
			ln, err := a.Listen()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			if withAgent {
				parts, err := a.BuildAgent(ctx, a.AgentFor(local), dirs)
				if err != nil {
					ln.Close()
					return err
				}
				wg.Go(func() { parts.Run(ctx) })
			}
			fmt.Fprintf(e.stderr, "\nwod is up: API %s/api/v1  documentation %s/api/docs\n", e.cfg.PublicURL, e.cfg.PublicURL)
			if withAgent {
				fmt.Fprintf(e.stderr, "JupyterHub for the participants: %s\n", e.cfg.HubURL)
			}
			if adminFile != "" {
				fmt.Fprintf(e.stderr, "Log in as admin with the password in %s (created now, shown nowhere else).\n", adminFile)
			}
			fmt.Fprintln(e.stderr)
			err = a.Serve(ctx, ln)
			cancel()
			return err
		},
	}
	cmd.Flags().BoolVar(&withAgent, "agent", true, "run the agent and a managed JupyterHub here (needs root)")
	return uses(cmd, config.UpUses...)
}

func agentCmd(e *env) *cobra.Command {
	return uses(&cobra.Command{
		Use:   "agent --server URL --agent-token TOKEN (--content-repo URL... | --content DIR...)",
		Short: "Run the agent of a JupyterHub host (a location)",
		Long: "Runs the agent of one location, as root on its JupyterHub host: it claims the server's jobs for\n" +
			"the location (create, cleanup, reset, purge), manages the studentN accounts, renders the workshops\n" +
			"from --content-repo (each job at the commits the server imported, fetched when needed) or --content,\n" +
			"drives the hub (a managed one on --hub-addr, or --hub-api with --hub-token) and\n" +
			"guards the students' processes. It dials out to --server; the location's token comes from\n" +
			"POST /api/v1/locations/{name}/agent-token (give it as WOD_AGENT_TOKEN).\n\n" +
			"With --legacy-api it works for the original Workshops-on-Demand api-db instead: it takes that\n" +
			"api-db's command mails on --legacy-mail-addr and reports to its REST API, as the original backend did;\n" +
			"with --smtp-host it also relays the participant mails the api-db sends there (from --legacy-mail-from only).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac := e.cfg.Agent
			switch {
			case ac.Legacy.API != "" && ac.Server != "":
				return fmt.Errorf("wod agent works for a wod server (--server) or for the original api-db (--legacy-api), not both")
			case ac.Legacy.API == "" && (ac.Server == "" || ac.Token == ""):
				return fmt.Errorf("wod agent needs --server and --agent-token (or WOD_SERVER and WOD_AGENT_TOKEN)")
			case len(e.cfg.Content) == 0 && len(e.cfg.ContentRepos) == 0:
				return fmt.Errorf("wod agent needs the content repositories (--content-repo, the server's) or directories (--content), public first, to deploy workshops from")
			case ac.Legacy.API != "" && len(e.cfg.ContentRepos) > 0:
				return fmt.Errorf("wod agent --legacy-api deploys from --content directories, not --content-repo")
			}
			a := &app.App{Config: &e.cfg, Logger: app.NewLogger(&e.cfg, e.stderr), Stderr: e.stderr}
			if ac.Legacy.API != "" {
				return a.RunLegacyAgent(cmd.Context(), e.cfg.Content)
			}
			client := &agent.Client{BaseURL: ac.Server, Token: ac.Token}
			parts, err := a.BuildAgent(cmd.Context(), client, e.cfg.Content)
			if err != nil {
				return err
			}
			a.Logger.Info("agent running", "server", ac.Server)
			parts.Run(cmd.Context())
			return nil
		},
	}, config.AgentUses...)
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
