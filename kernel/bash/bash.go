// Package bash is the bash kernel: one persistent bash per kernel, so that
// the working directory, variables and functions survive from cell to
// cell, as with bash_kernel. A cell's output streams as it comes (stdout
// through a terminal, as programs expect of an interactive shell; stderr
// apart), a non-zero exit status fails the cell, an interrupt stops the
// cell and not the shell, and a command that reads the terminal gets its
// line from the front end (input_request).
package bash

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// Interpreter is a bash kernel's shell.
type Interpreter struct {
	log  *slog.Logger
	dir  string // cells and completions go through files here
	sh   *shell
	info kernel.Info
}

var _ kernel.Interpreter = (*Interpreter)(nil)

// New starts bash (from PATH) in the current directory, with the current
// environment.
func New(ctx context.Context, logger *slog.Logger) (*Interpreter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "wod-bash-")
	if err != nil {
		return nil, fmt.Errorf("bash kernel: %w", err)
	}
	b := &Interpreter{log: logger, dir: dir, info: info(ctx)}
	if b.sh, err = startShell(dir, logger); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

var bashVersion = regexp.MustCompile(`version (\d+\.\d+\.\d+)`)

// info is kernel_info, in bash_kernel's terms (the banner is `bash
// --version`).
func info(ctx context.Context) kernel.Info {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	banner, _ := exec.CommandContext(ctx, "bash", "--version").Output()
	version := ""
	if m := bashVersion.FindSubmatch(banner); m != nil {
		version = string(m[1])
	}
	return kernel.Info{
		Implementation:        "wod-bash",
		ImplementationVersion: "1",
		Banner:                strings.TrimSpace(string(banner)),
		Language: kernel.LanguageInfo{
			Name:           "bash",
			Version:        version,
			MIMEType:       "text/x-sh",
			FileExtension:  ".sh",
			CodeMirrorMode: "shell",
			PygmentsLexer:  "bash",
		},
	}
}

// Info describes the kernel.
func (b *Interpreter) Info() kernel.Info { return b.info }

// cellLine runs the cell file in the shell itself (so its state stays),
// returning from it on SIGINT.
const cellLine = `trap 'return 130' INT; . "$__wod_dir/cell"; __wod_end $?`

// Execute runs code in the shell. A non-zero exit status of its last
// command is an error named as bash_kernel names it: no name, the status
// as the value.
func (b *Interpreter) Execute(ctx context.Context, code string, out kernel.Output) error {
	if strings.TrimSpace(code) == "" {
		return nil
	}
	if b.sh == nil || !b.sh.alive() {
		if err := b.restart(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(b.dir, "cell"), []byte(code+"\n"), 0o600); err != nil {
		return fmt.Errorf("bash kernel: %w", err)
	}
	dout := &displayOutput{Output: out}
	status, err := b.sh.run(ctx, cellLine, dout, true)
	dout.flush()
	switch {
	case errors.Is(err, errExited):
		// `exit` in a cell: bash_kernel starts a new shell.
		out.Stream("stderr", "Restarting Bash\n")
		if rerr := b.restart(); rerr != nil {
			return rerr
		}
		if status != 0 {
			return exitError(status)
		}
		return nil
	case errors.Is(err, errStuck):
		out.Stream("stderr", "bash did not stop after the interrupt: restarting Bash\n")
		if rerr := b.restart(); rerr != nil {
			return rerr
		}
		return kernel.ErrInterrupted
	case errors.Is(err, errNoStdin):
		return &kernel.Error{
			Name:      "StdinNotImplementedError",
			Value:     "the cell reads input, but this front end does not accept input requests",
			Traceback: []string{"StdinNotImplementedError: the cell reads input, but this front end does not accept input requests (it was interrupted)"},
		}
	case err != nil && ctx.Err() != nil:
		return kernel.ErrInterrupted
	case err != nil:
		return err
	case status != 0:
		return exitError(status)
	}
	return nil
}

func exitError(status int) *kernel.Error {
	n := strconv.Itoa(status)
	return &kernel.Error{Name: "", Value: n, Traceback: []string{"exit status " + n}}
}

// Restart replaces the shell with a fresh one.
func (b *Interpreter) Restart(ctx context.Context) error { return b.restart() }

func (b *Interpreter) restart() error {
	if b.sh != nil {
		b.sh.kill()
		b.sh = nil
	}
	sh, err := startShell(b.dir, b.log)
	if err != nil {
		return err
	}
	b.sh = sh
	return nil
}

// Close ends the shell and what it started.
func (b *Interpreter) Close() error {
	if b.sh != nil {
		b.sh.kill()
		b.sh = nil
	}
	return os.RemoveAll(b.dir)
}
