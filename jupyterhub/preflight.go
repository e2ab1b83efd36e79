package jupyterhub

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// installHint is the advice when the hub cannot be found.
const installHint = "install it with apt-get install jupyterhub, or point the agent at an existing hub with --hub-api and --hub-token"

// checkPortFree fails if addr cannot be listened on, naming the port and its
// role, because "address already in use" from deep inside the hub's log is a
// poor way to learn it.
func checkPortFree(addr, role string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		_, port, _ := net.SplitHostPort(addr)
		return fmt.Errorf("jupyterhub: port %s (%s, %s) is not available: %w", port, role, addr, err)
	}
	return l.Close()
}

// readOrCreateSecret returns the hex secret stored in path, creating it with
// n random bytes (mode 0600) the first time. An existing file's mode is
// tightened to 0600: the hub refuses a group/world-readable cookie secret.
func readOrCreateSecret(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if _, derr := hex.DecodeString(s); derr != nil || len(s) < 32 {
			return "", fmt.Errorf("jupyterhub: %s does not hold a hex secret; remove it to generate a new one", path)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("jupyterhub: securing %s: %w", path, err)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("jupyterhub: reading %s: %w", path, err)
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("jupyterhub: generating a secret: %w", err)
	}
	s := hex.EncodeToString(raw)
	if err := writeFileAtomic(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that a crash never leaves a half-written config or secret.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("jupyterhub: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("jupyterhub: writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("jupyterhub: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("jupyterhub: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("jupyterhub: writing %s: %w", path, err)
	}
	return nil
}

// ensureGroup creates the Unix group that lists the students allowed to log
// in, if it is missing. Without it the hub logs "No such group" and refuses
// every login, which is safe but baffling.
func ensureGroup(ctx context.Context, name string) (created bool, err error) {
	if _, err := user.LookupGroup(name); err == nil {
		return false, nil
	}
	if os.Geteuid() != 0 {
		return false, fmt.Errorf("jupyterhub: Unix group %q does not exist and creating it needs root", name)
	}
	out, err := exec.CommandContext(ctx, "groupadd", "--system", name).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("jupyterhub: groupadd %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return true, nil
}

// singleUserCommand finds jupyterhub-singleuser next to the hub's own
// executable first: the hub passes its PATH to the students' servers, and a
// PATH that starts with someone's virtualenv must not decide which Python
// runs the servers.
func singleUserCommand(hubPath string) string {
	p := filepath.Join(filepath.Dir(hubPath), "jupyterhub-singleuser")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	if p, err := exec.LookPath("jupyterhub-singleuser"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return ""
}

// hasJupyterLab reports whether the single-user servers can serve /lab:
// jupyter-lab on PATH, or the jupyterlab module importable by the Python that
// runs jupyterhub-singleuser (read from its #! line).
func hasJupyterLab(ctx context.Context, singleUser string) bool {
	if _, err := exec.LookPath("jupyter-lab"); err == nil {
		return true
	}
	py := "python3"
	if singleUser != "" {
		if interp := shebang(singleUser); interp != "" {
			py = interp
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, py, "-c", "import jupyterlab").Run() == nil
}

// shebang returns the interpreter of a script's "#!" line, or "".
func shebang(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return fields[1]
	}
	return fields[0]
}

// childEnv is the hub's environment: an allow-list of the agent's own (the
// agent's environment may hold its server token, and the hub hands PATH and
// LANG on to every student's server), plus NODE_PATH so that Debian's
// configurable-http-proxy finds its modules under a NodeSource node.
func childEnv(extra []string) []string {
	keep := []string{"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "USER", "LOGNAME", "SHELL"}
	var env []string
	for _, k := range keep {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if _, ok := os.LookupEnv("LANG"); !ok {
		env = append(env, "LANG=C.UTF-8")
	}
	if st, err := os.Stat("/usr/share/nodejs"); err == nil && st.IsDir() {
		np := "/usr/share/nodejs"
		if v := os.Getenv("NODE_PATH"); v != "" {
			np = v + ":" + np
		}
		env = append(env, "NODE_PATH="+np)
	}
	return append(env, extra...)
}

// Installation is what the managed mode would run on this machine.
type Installation struct {
	Hub, Version, SingleUser, Proxy string
	// Lab: the students' servers can serve JupyterLab (/lab).
	Lab bool
}

// CheckInstallation finds the programs the managed mode runs (jupyterhub,
// jupyterhub-singleuser, configurable-http-proxy) and asks the hub its
// version, for `wod check`. The error says what is missing and how to get
// it.
func CheckInstallation(ctx context.Context) (*Installation, error) {
	hub, err := exec.LookPath("jupyterhub")
	if err != nil {
		return nil, fmt.Errorf("jupyterhub is not installed: %s", installHint)
	}
	in := &Installation{Hub: hub, SingleUser: singleUserCommand(hub)}
	if in.SingleUser == "" {
		return in, fmt.Errorf("jupyterhub-singleuser is not installed next to %s: the students' servers cannot start", hub)
	}
	if in.Proxy, err = exec.LookPath("configurable-http-proxy"); err != nil {
		return in, errors.New("configurable-http-proxy is not installed: the hub cannot route to the servers " +
			"(apt-get install node-configurable-http-proxy, a dependency of Debian's jupyterhub)")
	}
	vctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(vctx, hub, "--version")
	cmd.Env = childEnv(nil)
	out, err := cmd.Output()
	if err != nil {
		return in, fmt.Errorf("%s --version: %w", hub, err)
	}
	in.Version = strings.TrimSpace(string(out))
	in.Lab = hasJupyterLab(ctx, in.SingleUser)
	return in, nil
}

// CheckAddr says whether the hub's public address can be listened on.
func CheckAddr(addr string) error { return checkPortFree(addr, "the hub's public address") }
