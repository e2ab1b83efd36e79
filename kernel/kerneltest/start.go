package kerneltest

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// Start serves in in the test's process on free loopback ports and returns
// a connected client; both end with the test.
func Start(t testing.TB, in kernel.Interpreter) *Client {
	t.Helper()
	ci, err := FreeConnection()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	go func() { done <- kernel.Serve(ctx, ci, in, logger) }()
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	c, err := Dial(dctx, ci)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}

// StartCommand runs a kernel program (argv, then "-f" and a connection
// file written for it) and returns a connected client and the process;
// the process is killed at the end of the test if still running.
func StartCommand(t testing.TB, argv ...string) (*Client, *exec.Cmd) {
	t.Helper()
	ci, err := FreeConnection()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kernel.json")
	if err := kernel.WriteConnectionFile(file, ci); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "-f", file)...)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Dial(ctx, ci)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, cmd
}

// testWriter logs a kernel's log lines in the test's output.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}
