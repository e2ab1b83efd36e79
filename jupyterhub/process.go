package jupyterhub

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopStale ends a hub or proxy left running by an earlier agent that died
// without stopping it (its ports would make this start fail). The process is
// identified by the pid file in our state directory and, against pid reuse,
// by its command line.
func stopStale(pidFile, want string, grace time.Duration) (pid int, err error) {
	pid = readPID(pidFile)
	if pid <= 0 || !processMatches(pid, want) {
		return 0, nil
	}
	if err := terminate(pid, grace); err != nil {
		return pid, fmt.Errorf("jupyterhub: stopping the leftover %s (pid %d): %w", want, pid, err)
	}
	// Gone (perhaps an unreaped zombie, which the hub's own check would
	// take for alive and spend seconds signalling): forget it.
	_ = os.Remove(pidFile)
	return pid, nil
}

// readPID returns the pid in a pid file, or 0.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// processMatches reports whether pid is alive and its command line contains
// want (e.g. "jupyterhub", "configurable-http-proxy").
func processMatches(pid int, want string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(want))
}

// terminate sends SIGTERM to pid, and SIGKILL if it is still there after
// grace. It returns once the process is gone (or after a last short wait).
func terminate(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	if waitGone(pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("pid %d survived SIGKILL", pid)
	}
	return nil
}

// waitGone polls until pid no longer exists (or is a zombie) or d passes.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie (a zombie child of
// ours that is not reaped yet is as good as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// Field 3, after the parenthesised command name, is the state.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
