// Package testenv decides what a test does when the host lacks something it
// needs (root, an installed program): it skips, unless the run requires that
// component through a WOD_TEST_REQUIRE_* switch, in which case it fails.
// scripts/test sets the switches, so that the full run cannot go green by
// skipping what it is meant to exercise.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireRoot makes a test that would skip for not running as root, or for
// a missing part of the hub host (jupyterhub, configurable-http-proxy, the
// account tools), fail instead. scripts/test sets it: CI runs as root.
const RequireRoot = "WOD_TEST_REQUIRE_ROOT"

// Required reports whether the switch env is set (to anything but empty).
func Required(env string) bool { return os.Getenv(env) != "" }

// Missing skips t with the reason, or fails it when the switch env is set.
func Missing(t testing.TB, env, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required(env) {
		t.Fatalf("%s (%s is set: this is a failure, not a skip)", msg, env)
		return
	}
	t.Skip(msg)
}

// Root skips t unless it runs as root, or fails it under RequireRoot; why
// says what the test does that needs root.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, RequireRoot, "%s: run the tests as root (CI does)", why)
	}
}

// Command returns the path of the program name, or skips t (fails it when
// the switch env is set) when it is not installed; hint says how to get it.
func Command(t testing.TB, env, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, env, "%s is not installed (%s)", name, hint)
	}
	return p
}

// HubHost skips t unless it can run a real JupyterHub as root with Unix
// accounts: root, Debian's jupyterhub and configurable-http-proxy, and the
// account tools; it fails instead under RequireRoot.
func HubHost(t testing.TB, why string) {
	t.Helper()
	Root(t, why)
	Command(t, RequireRoot, "jupyterhub", "scripts/test installs it: apt-get install jupyterhub")
	Command(t, RequireRoot, "configurable-http-proxy", "a dependency of Debian's jupyterhub")
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel", "chpasswd"} {
		Command(t, RequireRoot, tool, "the passwd package")
	}
}

// FuzzHangAfter is how long one input of a fuzz target may take before
// StopHang calls it a hang.
const FuzzHangAfter = 10 * time.Second

// StopHang makes a fuzz input that runs longer than FuzzHangAfter crash the
// fuzzing process, naming the input: Go's fuzzer records a crashed input
// (and minimises it) but does not notice one that never returns. Call the
// returned function when the input is done: defer testenv.StopHang(data)().
func StopHang(input any) (done func()) {
	t := time.AfterFunc(FuzzHangAfter, func() {
		panic(fmt.Sprintf("a fuzz input ran longer than %s (a hang): %q", FuzzHangAfter, input))
	})
	return func() { t.Stop() }
}
