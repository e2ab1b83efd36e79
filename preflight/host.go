package preflight

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Host is where the host checks read the machine. Each check is a pure
// function of what these read, so that tests give it a machine of their
// own (a directory tree, a ruleset text); the zero Host reads this one.
type Host struct {
	// Root prefixes the paths below ("" : /).
	Root string
	// Command runs a read-only tool (nft, iptables-save) and returns its
	// output; nil runs it for real when it is on the PATH.
	Command func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Clock reads the kernel's clock discipline (adjtimex); nil: the
	// syscall.
	Clock func() (state int, status int32, maxError int64, err error)
}

// path is where a file of the machine is read.
func (h *Host) path(p string) string { return filepath.Join(h.rootDir(), p) }

func (h *Host) rootDir() string {
	if h == nil || h.Root == "" {
		return "/"
	}
	return h.Root
}

func (h *Host) read(p string) ([]byte, error) { return os.ReadFile(h.path(p)) }

func (h *Host) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	if h != nil && h.Command != nil {
		return h.Command(ctx, name, args...)
	}
	if _, err := exec.LookPath(name); err != nil {
		return nil, errToolMissing
	}
	return exec.CommandContext(ctx, name, args...).Output()
}

func (h *Host) adjtimex() (int, int32, int64, error) {
	if h != nil && h.Clock != nil {
		return h.Clock()
	}
	// Modes 0: read only.
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return state, tx.Status, tx.Maxerror, err
}

type toolMissing struct{}

func (toolMissing) Error() string { return "not installed" }

var errToolMissing error = toolMissing{}
