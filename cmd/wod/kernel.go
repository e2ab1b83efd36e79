package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/kernel"
	"github.com/wod-dev/wod/kernel/bash"
	"github.com/wod-dev/wod/kernel/gointerp"
	sshkernel "github.com/wod-dev/wod/kernel/ssh"
)

// newKernel starts a kernel's interpreter.
type newKernel = func(ctx context.Context, logger *slog.Logger) (kernel.Interpreter, error)

// kernels are the Jupyter kernels `wod kernel NAME` runs, by the kernelspec
// names notebooks use.
var kernels = map[string]newKernel{
	"bash": func(ctx context.Context, logger *slog.Logger) (kernel.Interpreter, error) {
		return bash.New(ctx, logger)
	},
	"gophernotes": func(ctx context.Context, logger *slog.Logger) (kernel.Interpreter, error) {
		return gointerp.New(logger)
	},
	// The notebook server starts kernels as the student, in their home:
	// the keys and the agent are the student's own.
	"ssh": func(ctx context.Context, logger *slog.Logger) (kernel.Interpreter, error) {
		return sshkernel.New(sshkernel.Options{Home: os.Getenv("HOME"), AgentSocket: os.Getenv("SSH_AUTH_SOCK"), Logger: logger})
	},
}

func kernelNames() []string {
	names := make([]string, 0, len(kernels))
	for n := range kernels {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func kernelCmd(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "kernel NAME -f CONNECTION_FILE",
		Short: "Run a Jupyter kernel (" + strings.Join(kernelNames(), ", ") + ") for a notebook server",
		Long: "Run a Jupyter kernel, as a notebook server does through a kernelspec (kernel.json) whose argv is\n" +
			"[\"wod\", \"kernel\", NAME, \"-f\", \"{connection_file}\"]. Logs go to stderr.",
		Args: cobra.ExactArgs(1),
		// A kernel needs neither wod's configuration nor its database.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			start, ok := kernels[name]
			if !ok {
				return fmt.Errorf("no kernel %q: wod has %s", name, strings.Join(kernelNames(), ", "))
			}
			ci, err := kernel.ReadConnectionFile(file)
			if err != nil {
				return err
			}
			if ci.KernelName == "" {
				ci.KernelName = name
			}
			logger := slog.New(slog.NewTextHandler(e.stderr, nil)).With("kernel", name)
			// SIGINT interrupts a kernel's cell (kernel.Serve sees to it),
			// so it must not end the context as it does for wod's other
			// commands: SIGTERM and shutdown_request end a kernel.
			ctx, stop := signal.NotifyContext(context.WithoutCancel(cmd.Context()), syscall.SIGTERM)
			defer stop()
			in, err := start(ctx, logger)
			if err != nil {
				return fmt.Errorf("kernel %s: %w", name, err)
			}
			defer in.Close()
			return kernel.Serve(ctx, ci, in, logger)
		},
	}
	cmd.Flags().StringVarP(&file, "connection-file", "f", "", "the connection file the notebook server wrote")
	cmd.MarkFlagRequired("connection-file")
	return cmd
}
