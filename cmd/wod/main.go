// Command wod is Workshops-on-Demand: the server, the agent, the
// all-in-one and the operator's commands, in one binary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/jupyterhub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// env is what every command gets: the resolved configuration and the I/O.
type env struct {
	cfg    config.Config
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// flags are all the configuration's flags (config.Register), whichever
	// command runs.
	flags *pflag.FlagSet
}

// run executes the command line and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	// Every flag is defined once, in all; each command shows and parses
	// those of its uses (withFlags), and the environment and the file set
	// them all, whatever the command.
	all := pflag.NewFlagSet("wod", pflag.ContinueOnError)
	e.cfg.Register(all)
	e.flags = all
	root := &cobra.Command{
		Use:   "wod",
		Short: "Workshops-on-Demand: hands-on notebook workshops, on demand",
		Long: "wod runs a catalogue of Jupyter-notebook workshops: participants register on the portal and get a\n" +
			"private, prepared JupyterHub environment within seconds; operators run it from the admin UI, the\n" +
			"REST API and this command.\n\n" +
			"Every flag can also be set in the environment as WOD_<FLAG> (WOD_DB, WOD_DATA, …) or in the YAML\n" +
			"file given with --config (keys are flag names), whichever command uses it: one file serves them all.\n" +
			"Flags win over the environment, which wins over the file. wod COMMAND --help lists the command's flags.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.cfg.Resolve(all, getenv); err != nil {
				return err
			}
			if config.NeedsHubURL(commandUses(cmd)) {
				e.cfg.DeriveHubURL(cmd.Context(), config.HostProbe{})
			}
			return nil
		},
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(commandTree(e)...)
	withFlags(root, all)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "wod:", err)
		return 1
	}
	return 0
}

// commandTree is every command of wod.
func commandTree(e *env) []*cobra.Command {
	return []*cobra.Command{upCmd(e), serverCmd(e), agentCmd(e), migrateCmd(e), userCmd(e), tokenCmd(e), workshopCmd(e),
		checkCmd(e), installCmd(e), loadtestCmd(e), versionCmd(e), kernelCmd(e), locationCmd(e), importLegacyCmd(e)}
}

// open resolves the logger and opens (and migrates) the store.
func (e *env) open(ctx context.Context) (*app.App, error) {
	a := &app.App{Config: &e.cfg, Logger: app.NewLogger(&e.cfg, e.stderr), Stderr: e.stderr}
	if err := a.Open(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// openServer opens the store and the keys, for the roles that serve.
func (e *env) openServer(ctx context.Context) (*app.App, error) {
	a, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.OpenKeys(); err != nil {
		a.Close()
		return nil, err
	}
	// Rehearsals run the notebooks through each location's hub, as a
	// participant's browser does.
	a.NotebookExecutor = &jupyterhub.Rehearser{Logger: a.Logger}
	return a, nil
}

// withStore opens the store (as open does), runs fn with it and closes it:
// the shape of every command that works on the database directly.
func (e *env) withStore(ctx context.Context, fn func(a *app.App) error) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
