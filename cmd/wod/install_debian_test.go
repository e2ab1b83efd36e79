package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/testenv"
)

// The fresh Debian root of TestInstallFreshDebianRoot: a tarball that
// scripts/test makes once with debootstrap (scripts/lib.sh debian_root),
// apt lists and every role's .deb files in its apt cache. The switch turns a
// missing one into a failure.
const (
	debianRootEnv     = "WOD_TEST_DEBIAN_ROOT"
	requireDebianRoot = "WOD_TEST_REQUIRE_DEBIAN_ROOT"
)

// TestInstallFreshDebianRoot runs the real `wod install --root` on a fresh
// Debian 12 root (debootstrap's minbase) with no network — the binary runs
// in a network namespace of its own, where apt-get update fails and the
// packages come from the root's apt cache — and checks what the root holds
// afterwards through its own dpkg and Jupyter: the dry run plans and changes
// nothing; agent, then server with PostgreSQL, then up install their
// packages, kernelspecs, configuration, user and units; no service started;
// each second run changes nothing and says so.
func TestInstallFreshDebianRoot(t *testing.T) {
	t.Parallel()
	testenv.Root(t, "unpacking a Debian root and chrooting into it")
	tarball := os.Getenv(debianRootEnv)
	if tarball == "" {
		testenv.Missing(t, requireDebianRoot, "%s names no Debian root: scripts/test makes one with debootstrap", debianRootEnv)
	}
	if _, err := os.Stat(tarball); err != nil {
		testenv.Missing(t, requireDebianRoot, "the Debian root %s: %v (scripts/test makes it)", tarball, err)
	}
	testenv.Command(t, requireDebianRoot, "zstd", "apt-get install zstd")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	root := filepath.Join(t.TempDir(), "root")
	// Registered after TempDir's removal, so run before it: nothing may
	// stay mounted under the root when it is removed.
	t.Cleanup(func() { unmountUnder(t, root) })
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-xpf", tarball, "-I", "zstd", "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	t.Logf("unpacked %s in %s", tarball, time.Since(start).Round(time.Millisecond))

	wod := func(args ...string) string {
		t.Helper()
		start := time.Now()
		cmd := exec.CommandContext(ctx, binary, append(append([]string{"install"}, args...), "--root", root, "--log-level", "error")...)
		// Loopback only, and not even that: apt must find it all in the
		// root's cache.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wod install %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("wod install %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return string(out)
	}
	agent := []string{"--role", "agent", "--server", "http://127.0.0.1:9", "--agent-token", "t0ken"}

	// The dry run on the fresh root: the plan, packages first, and no
	// change.
	before := listTree(t, root)
	plan := wod(append(agent, "--dry-run")...)
	for _, want := range []string{
		"plan for wod agent on " + root + " (dry run: nothing changed):",
		" 1. install packages: ca-certificates (", "jupyterhub (", "python3-ipykernel (", "gcc (", "shc (", "chrony (",
		"install the binary at " + root + "/usr/local/bin/wod",
		"write wod's kernelspecs bash, ssh, gophernotes in " + root + "/usr/local/share/jupyter/kernels",
		"write the configuration " + root + "/etc/wod/agent.yml",
		"write the sysctls the students' host needs",
		"write the systemd unit " + root + "/etc/systemd/system/wod-agent.service",
		"disable the distribution's jupyterhub service in " + root,
		"enable wod-agent.service in " + root,
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("the dry run's plan lacks %q:\n%s", want, plan)
		}
	}
	// The student root's filesystem picks the disk-limit tools.
	diskTool := "quota"
	if strings.Contains(plan, "btrfs-progs (") {
		diskTool = "btrfs-progs"
	}
	sameListing(t, "the dry run", before, listTree(t, root))
	if t.Failed() {
		t.FailNow()
	}

	// The agent, for real.
	out := wod(agent...)
	if !strings.Contains(out, root+" is set up for wod agent (") {
		t.Fatalf("agent:\n%s", out)
	}
	installed(t, root, "ca-certificates", "jupyterhub", "python3-ipykernel", "gcc", "shc", "chrony", "passwd", diskTool)
	// The root's own Jupyter finds wod's kernels, which run the installed wod.
	specs := inRoot(t, ctx, root, "python3", "-c", "from jupyter_client.kernelspec import KernelSpecManager as M\n"+
		"for k, v in sorted(M().find_kernel_specs().items()): print(k, v)")
	for _, k := range []string{"bash", "ssh", "gophernotes"} {
		if !regexp.MustCompile(`(?m)^` + k + ` /usr/local/share/jupyter/kernels/` + k + `$`).MatchString(specs) {
			t.Errorf("jupyter in the root does not list wod's %s kernel:\n%s", k, specs)
		}
		spec, err := os.ReadFile(filepath.Join(root, "usr/local/share/jupyter/kernels", k, "kernel.json"))
		if err != nil || !bytes.Contains(spec, []byte(`"/usr/local/bin/wod"`)) {
			t.Errorf("%s kernelspec: %v\n%s", k, err, spec)
		}
	}
	if v := inRoot(t, ctx, root, "/usr/local/bin/wod", "version"); !strings.Contains(v, "wod") {
		t.Errorf("the installed binary in the root: %q", v)
	}
	if cfg := readMode(t, root, "etc/wod/agent.yml", 0o600); !strings.Contains(cfg, "server: http://127.0.0.1:9") ||
		!strings.Contains(cfg, "agent-token: t0ken") {
		t.Errorf("agent configuration:\n%s", cfg)
	}
	if unit := readMode(t, root, "etc/systemd/system/wod-agent.service", 0o644); !strings.Contains(unit,
		"ExecStart=/usr/local/bin/wod agent --config /etc/wod/agent.yml") {
		t.Errorf("agent unit:\n%s", unit)
	}
	readMode(t, root, "etc/sysctl.d/90-wod.conf", 0o644)
	enabled(t, root, "wod-agent.service", true)
	enabled(t, root, "jupyterhub.service", false)
	noLeftovers(t, root)
	again(t, root, "agent", func() string { return wod(agent...) })

	// The server with its own PostgreSQL, in the same root: the package,
	// the unprivileged user (the root's own) owning the data directory,
	// and the configuration its group reads.
	server := []string{"--role", "server", "--postgres", "--data", "/var/lib/wod"}
	out = wod(server...)
	if !strings.Contains(out, root+" is set up for wod server (") ||
		!strings.Contains(out, "note: no PostgreSQL runs in "+root+": its role and database wod are created") {
		t.Fatalf("server:\n%s", out)
	}
	installed(t, root, "postgresql")
	uid, gid := rootAccount(t, root, "wod")
	if info, err := os.Stat(filepath.Join(root, "var/lib/wod")); err != nil || info.Mode().Perm() != 0o700 ||
		info.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("data directory: %v %v (wod is uid %d in the root)", info, err, uid)
	}
	cfg := readMode(t, root, "etc/wod/server.yml", 0o640)
	if info, _ := os.Stat(filepath.Join(root, "etc/wod/server.yml")); info.Sys().(*syscall.Stat_t).Gid != uint32(gid) {
		t.Errorf("server configuration not readable by the group wod (gid %d)", gid)
	}
	if !strings.Contains(cfg, "db: postgres:///wod?host=/var/run/postgresql") {
		t.Errorf("server configuration:\n%s", cfg)
	}
	if unit := readMode(t, root, "etc/systemd/system/wod-server.service", 0o644); !strings.Contains(unit, "User=wod") {
		t.Errorf("server unit:\n%s", unit)
	}
	enabled(t, root, "wod-server.service", true)
	noLeftovers(t, root)
	again(t, root, "server", func() string { return wod(server...) })

	// up: the agent's packages are there; its own files only.
	out = wod("--role", "up")
	if strings.Contains(out, "install packages") || !strings.Contains(out, root+" is set up for wod up (") {
		t.Fatalf("up:\n%s", out)
	}
	enabled(t, root, "wod-up.service", true)
	again(t, root, "up", func() string { return wod("--role", "up") })
}

// again runs an installation a second time: it must say it has nothing to
// change, and change nothing.
func again(t *testing.T, root, role string, run func() string) {
	t.Helper()
	before := listTree(t, root)
	if out := run(); !strings.Contains(out, "nothing to change: "+root+" is set up for wod "+role+"\n") ||
		strings.Contains(out, "wrote ") {
		t.Errorf("second %s run:\n%s", role, out)
	}
	sameListing(t, "the second "+role+" run", before, listTree(t, root))
}

// installed checks the root's own dpkg database.
func installed(t *testing.T, root string, pkgs ...string) {
	t.Helper()
	out, err := exec.Command("chroot", append([]string{root, "dpkg-query", "-W", "-f", "${Package} ${Status}\n"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-query in the root: %v\n%s", err, out)
	}
	for _, p := range pkgs {
		if !strings.Contains(string(out), p+" install ok installed\n") {
			t.Errorf("%s is not installed in the root:\n%s", p, out)
		}
	}
}

func inRoot(t *testing.T, ctx context.Context, root string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readMode(t *testing.T, root, path string, mode os.FileMode) string {
	t.Helper()
	info, err := os.Stat(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != mode {
		t.Errorf("/%s has mode %v, want %v", path, info.Mode().Perm(), mode)
	}
	data, _ := os.ReadFile(filepath.Join(root, path))
	return string(data)
}

// enabled checks whether the root starts the unit when it boots.
func enabled(t *testing.T, root, unit string, want bool) {
	t.Helper()
	_, err := os.Lstat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unit))
	if (err == nil) != want {
		t.Errorf("%s enabled in the root: %v, want %v", unit, err == nil, want)
	}
}

// noLeftovers: no policy-rc.d left behind, and no process running in the
// root (a package's service started by its maintainer script).
func noLeftovers(t *testing.T, root string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(root, "usr/sbin/policy-rc.d")); err == nil {
		t.Error("policy-rc.d left in the root")
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/root")
	for _, p := range procs {
		if dir, err := os.Readlink(p); err == nil && (dir == root || strings.HasPrefix(dir, root+"/")) {
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			t.Errorf("a process runs in the root: %s %s", filepath.Dir(p), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
}

// rootAccount reads a user's ids from the root's /etc/passwd.
func rootAccount(t *testing.T, root, name string) (uid, gid int) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); len(fields) > 3 && fields[0] == name {
			uid, _ = strconv.Atoi(fields[2])
			gid, _ = strconv.Atoi(fields[3])
			return uid, gid
		}
	}
	t.Fatalf("no user %s in the root", name)
	return 0, 0
}

// listTree is every path under root with its type, mode, size and time:
// enough to see a change, cheap on a whole Debian root.
func listTree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fmt.Sprintf("%v %d %s", info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameListing(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	n := 0
	for p, v := range after {
		if before[p] != v && n < 20 {
			t.Errorf("%s changed %s", what, p)
			n++
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && n < 20 {
			t.Errorf("%s removed %s", what, p)
			n++
		}
	}
}

// unmountUnder unmounts whatever is mounted under dir (deepest first),
// so that removing it cannot reach into another filesystem.
func unmountUnder(t *testing.T, dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			points = append(points, f[1])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		t.Errorf("%s was left mounted", points[i])
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", points[i], err)
		}
	}
}
