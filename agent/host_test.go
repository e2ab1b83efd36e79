package agent

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wod-dev/wod/testenv"
)

// testSeat is the first student number the tests use: far above the seats
// of a wod up running on the same machine, so that the account names
// (student9101…) cannot collide either.
const testSeat = 9101

// testHost returns a Host on a uid range far from wod up's (2000+) and from
// regular users, removing its accounts when the test ends. It needs root.
func testHost(t *testing.T) *Host {
	t.Helper()
	testenv.Root(t, "the host operations manage Unix accounts")
	for _, cmd := range []string{"useradd", "chpasswd"} {
		testenv.Command(t, testenv.RequireRoot, cmd, "the passwd package")
	}
	// Not under t.TempDir(): its 0700 parent would keep students out of their homes.
	dir, err := os.MkdirTemp("", "wod-host")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &Host{Root: filepath.Join(dir, "student"), UIDBase: 50000, GIDBase: 50000, Group: "wodtest-students"}
	t.Cleanup(func() {
		for n := testSeat; n <= testSeat+2; n++ {
			h.RemoveAccount(context.Background(), n)
		}
		exec.Command("groupdel", h.Group).Run()
	})
	return h
}

func TestAccountLifecycle(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("student9101")
	if err != nil || u.Uid != "59101" || u.HomeDir != a.Home {
		t.Fatalf("account: %+v %v", u, err)
	}
	if gids, _ := u.GroupIds(); !strings.Contains(strings.Join(gids, ","), lookupGid(t, h.Group)) {
		t.Fatalf("student9101 is not in %s: %v", h.Group, gids)
	}
	info, _ := os.Stat(a.Home)
	if info.Mode().Perm() != 0o700 || info.Sys().(*syscall.Stat_t).Uid != 59101 {
		t.Fatalf("home mode %v owner %d", info.Mode().Perm(), info.Sys().(*syscall.Stat_t).Uid)
	}
	if root, _ := os.Stat(h.Root); root.Mode().Perm() != 0o711 {
		t.Fatalf("student root mode %v", root.Mode().Perm())
	}
	// Idempotent.
	if _, err := h.EnsureAccount(ctx, testSeat); err != nil {
		t.Fatalf("second EnsureAccount: %v", err)
	}

	// Passwords: chpasswd changes the shadow entry.
	before := shadow(t, "student9101")
	if err := h.SetPassword(ctx, a, "First-Pass-1"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetPassword(ctx, a, "Second-Pass-2"); err != nil {
		t.Fatal(err)
	}
	if after := shadow(t, "student9101"); after == before || !strings.HasPrefix(after, "$6$") {
		t.Fatalf("shadow entry did not change to a SHA-512 crypt hash: %q", after)
	}
	if err := h.SetPassword(ctx, a, "bad:pass"); err == nil {
		t.Fatal("a password with ':' was accepted")
	}

	// Populate: skel, ssh keys, all owned by the student.
	if err := h.Populate(a); err != nil {
		t.Fatal(err)
	}
	key, err := os.Stat(filepath.Join(a.Home, ".ssh", "id_ed25519"))
	if err != nil || key.Mode().Perm() != 0o600 || key.Sys().(*syscall.Stat_t).Uid != 59101 {
		t.Fatalf("private key: %v %v", key, err)
	}
	if _, err := os.Stat(filepath.Join(a.Home, ".bashrc")); err != nil {
		t.Fatalf("skel not copied: %v", err)
	}

	// Wipe never follows a symlink out of the home.
	outside := filepath.Join(t.TempDir(), "precious")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("keep"), 0o644)
	os.Symlink(outside, filepath.Join(a.Home, "link-out"))
	os.MkdirAll(filepath.Join(a.Home, "work", "deep"), 0o755)
	os.WriteFile(filepath.Join(a.Home, "work", "deep", "f"), []byte("x"), 0o644)
	if err := h.Wipe(ctx, a); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(a.Home); len(entries) != 0 {
		t.Fatalf("home not empty after wipe: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep.txt")); err != nil {
		t.Fatal("wipe followed a symlink out of the home")
	}

	// Processes are killed by uid, and only that uid's.
	other, err := h.EnsureAccount(ctx, testSeat+1)
	if err != nil {
		t.Fatal(err)
	}
	mine := startAs(t, a)
	theirs := startAs(t, other)
	n, err := h.KillProcesses(ctx, a)
	if err != nil || n < 1 {
		t.Fatalf("kill: %d %v", n, err)
	}
	mine.Wait()
	if pids, _ := processesOf(a.UID); len(pids) != 0 {
		t.Fatalf("processes of student9101 survive: %v", pids)
	}
	if theirs.ProcessState != nil || syscall.Kill(theirs.Process.Pid, 0) != nil {
		t.Fatal("student9102's process was killed too")
	}
	h.KillProcesses(ctx, other)
	theirs.Wait()
}

// TestAccountFromAnotherRoot: an account kept from another student root
// (the operator moved it, or an earlier install or test had another) gets
// the home the agent deploys to, even while a process of the student
// still runs: the hub starts the server in the home /etc/passwd names, and
// a stale one served the participant a directory without their notebooks.
func TestAccountFromAnotherRoot(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	earlier := &Host{Root: filepath.Join(filepath.Dir(h.Root), "earlier"), UIDBase: h.UIDBase, GIDBase: h.GIDBase, Group: h.Group}
	old, err := earlier.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	// The earlier holder's server, which the hub keeps across restarts.
	startAs(t, old)
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	if a.Home == old.Home {
		t.Fatalf("both roots give the home %s", a.Home)
	}
	u, err := user.Lookup(a.Name)
	if err != nil || u.HomeDir != a.Home || u.Uid != strconv.Itoa(a.UID) {
		t.Fatalf("account after EnsureAccount under %s: %+v %v, want the home %s", h.Root, u, err, a.Home)
	}
	info, err := os.Stat(a.Home)
	if err != nil || !info.IsDir() || info.Sys().(*syscall.Stat_t).Uid != uint32(a.UID) {
		t.Fatalf("home %s: %v %v", a.Home, info, err)
	}
}

// TestUIDTaken refuses to share an id with an unrelated account.
func TestUIDTaken(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	if err := exec.Command("useradd", "-u", "59103", "-M", "wodtest-intruder").Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("userdel", "wodtest-intruder").Run() })
	if _, err := h.EnsureAccount(ctx, testSeat+2); err == nil || !strings.Contains(err.Error(), "taken by") || !strings.Contains(err.Error(), "wodtest-intruder") {
		t.Fatalf("EnsureAccount with a taken uid: %v", err)
	}
}

func startAs(t *testing.T, a Account) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	mustRun(t, cmd, "sleep")
	return cmd
}

// mustRun checks that cmd's process runs the program name already: Start
// returns once the child has exec'd (or failed to), so the process is the
// student's program, under the student's uid, from here on, with no wait.
func mustRun(t *testing.T, cmd *exec.Cmd, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "comm"))
	if err != nil || strings.TrimSpace(string(b)) != name {
		t.Fatalf("process %d runs %q (%v), want %s", cmd.Process.Pid, b, err, name)
	}
}

func shadow(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) > 1 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

func lookupGid(t *testing.T, name string) string {
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	return g.Gid
}

// TestRemoveTraces: what a student left in the shared directories goes,
// links as links (never followed), files of the student inside another
// student's world-writable folder too; other people's files and the
// students' homes stay.
func TestRemoveTraces(t *testing.T) {
	h := testHost(t)
	ctx := context.Background()
	a, err := h.EnsureAccount(ctx, testSeat)
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.EnsureAccount(ctx, testSeat+1)
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(filepath.Dir(h.Root), "tmp")
	os.MkdirAll(shared, 0o1777)
	os.Chmod(shared, 0o1777)
	h.TempDirs = []string{shared, filepath.Join(filepath.Dir(h.Root), "no-such-dir")}
	victim := filepath.Join(filepath.Dir(h.Root), "victim")
	os.WriteFile(victim, []byte("root's"), 0o644)
	write := func(owner Account, name string) string {
		p := filepath.Join(shared, name)
		os.MkdirAll(filepath.Dir(p), 0o777)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Lchown(p, owner.UID, owner.GID)
		return p
	}
	mine := write(a, "planted")
	os.Mkdir(filepath.Join(shared, "tree"), 0o755)
	write(a, "tree/deep/file")
	os.Lchown(filepath.Join(shared, "tree"), a.UID, a.GID)
	// B's world-writable folder with A's file in it.
	os.Mkdir(filepath.Join(shared, "open"), 0o777)
	os.Chmod(filepath.Join(shared, "open"), 0o777)
	os.Lchown(filepath.Join(shared, "open"), other.UID, other.GID)
	inOpen := write(a, "open/mine")
	theirs := write(other, "open/theirs")
	link := filepath.Join(shared, "link")
	os.Symlink(victim, link)
	os.Lchown(link, a.UID, a.GID)
	// A home under the shared directory is never walked as temporary files.
	h.TempDirs = append(h.TempDirs, filepath.Dir(h.Root))
	os.WriteFile(filepath.Join(a.Home, "notes"), []byte("kept for the wipe"), 0o644)
	os.Lchown(filepath.Join(a.Home, "notes"), a.UID, a.GID)

	removed, err := h.RemoveTraces(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{mine, filepath.Join(shared, "tree"), inOpen, link} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s survives (removed: %v)", p, removed)
		}
	}
	for _, p := range []string{theirs, victim, filepath.Join(a.Home, "notes"), a.Home} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
