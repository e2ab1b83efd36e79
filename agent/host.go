package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Host manages the student accounts of a JupyterHub host: Unix users
// studentN with uid and gid base + N, homes under Root, passwords set with
// chpasswd (PAM is how JupyterHub logs students in). It needs root.
type Host struct {
	// Root holds the homes, /student by default; it is 0711 so that a
	// student can reach their own home but list nobody's.
	Root string
	// UIDBase and GIDBase offset the account ids: studentN is base + N.
	UIDBase, GIDBase int
	// Group is the supplementary group of every student, which the hub
	// admits (default "wod-students").
	Group string
	// Skel is copied into a fresh home (default /etc/skel).
	Skel string
	// Shell of the accounts (default /bin/bash).
	Shell string
	// TempDirs are where anyone may write, emptied of a student's files
	// when their seat is locked (default DefaultTempDirs).
	TempDirs []string
	// DiskLimit is the bytes a student may keep in their home unless the
	// workshop says otherwise (0: no limit). See ApplyDiskLimit.
	DiskLimit int64

	diskMu sync.Mutex
	disk   *DiskQuota      // the student root's mechanism, found at first use
	frozen map[uint64]bool // subvolumes made in homes, frozen (FreezeNestedSubvolumes)
}

// Defaults of a Host.
const (
	DefaultStudentRoot = "/student"
	DefaultIDBase      = 2000
	DefaultGroup       = "wod-students"
)

func (h *Host) root() string {
	if h.Root == "" {
		return DefaultStudentRoot
	}
	return h.Root
}

func (h *Host) group() string {
	if h.Group == "" {
		return DefaultGroup
	}
	return h.Group
}

// Account is one student's Unix identity.
type Account struct {
	Name     string
	UID, GID int
	Home     string
}

// Account returns student n's identity (it may not exist yet).
func (h *Host) Account(n int) Account {
	name := "student" + strconv.Itoa(n)
	return Account{Name: name, UID: h.UIDBase + n, GID: h.GIDBase + n, Home: filepath.Join(h.root(), name)}
}

// EnsureAccount creates student n's group, user and home if missing, and
// checks that an existing one has the expected ids: an id taken by someone
// else is an error, never silently shared. An existing account whose home
// is elsewhere gets this root's (its processes are killed first).
func (h *Host) EnsureAccount(ctx context.Context, n int) (Account, error) {
	a := h.Account(n)
	if err := os.MkdirAll(h.root(), 0o711); err != nil {
		return a, fmt.Errorf("student root: %w", err)
	}
	if err := os.Chmod(h.root(), 0o711); err != nil {
		return a, fmt.Errorf("student root: %w", err)
	}
	// The student's notebook server starts in the home, as the student: each
	// directory above it must let others through.
	for dir := filepath.Dir(h.root()); ; dir = filepath.Dir(dir) {
		if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o001 == 0 {
			return a, fmt.Errorf("students cannot reach their homes under %s: %s is not searchable by others (mode %v)",
				h.root(), dir, info.Mode().Perm())
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	if err := run(ctx, nil, "groupadd", "-f", h.group()); err != nil {
		return a, err
	}
	if g, err := user.LookupGroup(a.Name); err == nil {
		if g.Gid != strconv.Itoa(a.GID) {
			return a, fmt.Errorf("group %s exists with gid %s, not %d", a.Name, g.Gid, a.GID)
		}
	} else if g, err := user.LookupGroupId(strconv.Itoa(a.GID)); err == nil {
		return a, fmt.Errorf("gid %d is taken by group %s; choose another --uid-base", a.GID, g.Name)
	} else if err := run(ctx, nil, "groupadd", "-g", strconv.Itoa(a.GID), a.Name); err != nil {
		return a, err
	}
	if u, err := user.Lookup(a.Name); err == nil {
		if u.Uid != strconv.Itoa(a.UID) {
			return a, fmt.Errorf("user %s exists with uid %s, not %d", a.Name, u.Uid, a.UID)
		}
		if u.HomeDir != a.Home {
			// The hub starts the student's server in the home /etc/passwd
			// names, not in the one the agent deploys the workshop to: an
			// account kept from another student root (the operator moved
			// it, or an earlier install or test had another) would give
			// the participant a server showing none of their notebooks.
			// usermod refuses to move the home of a user with processes;
			// whatever runs there belongs to that other home, and the
			// create's lock would end it anyway.
			if _, err := h.KillProcesses(ctx, a); err != nil {
				return a, err
			}
			if err := run(ctx, nil, "usermod", "-d", a.Home, a.Name); err != nil {
				return a, fmt.Errorf("home of %s from %s to %s: %w", a.Name, u.HomeDir, a.Home, err)
			}
		}
		if err := run(ctx, nil, "usermod", "-a", "-G", h.group(), a.Name); err != nil {
			return a, err
		}
		if u.HomeDir != a.Home {
			// Made under another student root (--student-root changed, an
			// account left by an earlier install): the hub starts the
			// server in the passwd home, which must be the one wod fills.
			if err := run(ctx, nil, "usermod", "-d", a.Home, a.Name); err != nil {
				return a, err
			}
		}
	} else {
		if u, err := user.LookupId(strconv.Itoa(a.UID)); err == nil {
			return a, fmt.Errorf("uid %d is taken by %s; choose another --uid-base", a.UID, u.Username)
		}
		shell := h.Shell
		if shell == "" {
			shell = "/bin/bash"
		}
		if err := run(ctx, nil, "useradd", "-u", strconv.Itoa(a.UID), "-g", strconv.Itoa(a.GID), "-G", h.group(),
			"-d", a.Home, "-M", "-s", shell, a.Name); err != nil {
			return a, err
		}
	}
	if _, err := os.Lstat(a.Home); errors.Is(err, fs.ErrNotExist) {
		return a, h.makeHome(ctx, a)
	}
	if err := os.Lchown(a.Home, a.UID, a.GID); err != nil {
		return a, fmt.Errorf("home of %s: %w", a.Name, err)
	}
	// Homes are never readable by other students.
	if err := os.Chmod(a.Home, 0o700); err != nil {
		return a, fmt.Errorf("home of %s: %w", a.Name, err)
	}
	return a, nil
}

// SetPassword sets the account's password through chpasswd, reading it on
// stdin so that it never shows in a process list.
//
// The hash is SHA-512 crypt (5000 rounds), not the distribution's default
// (yescrypt on Debian 12): a room logging in at once on a warm pool spends
// its first seconds in the hub's PAM checks, about 46 ms of CPU each with
// yescrypt against 8 with SHA-512 (docs/benchmarks.md). A slow hash protects
// passwords people choose; these are wod's, 12 random characters (about 70
// bits), new at every seat, where a fast salted hash loses nothing.
func (h *Host) SetPassword(ctx context.Context, a Account, password string) error {
	if strings.ContainsAny(password, ":\n") {
		return errors.New("a password may not contain ':' or a newline")
	}
	if _, err := user.Lookup(a.Name); err != nil {
		return nil // no account, nothing to rotate
	}
	return run(ctx, strings.NewReader(a.Name+":"+password+"\n"), "chpasswd", "--crypt-method", "SHA512")
}

// KillProcesses kills every process running as the account's uid — by uid,
// never by a path pattern (the original's grep on /studentN also matched
// student10 to student199).
func (h *Host) KillProcesses(ctx context.Context, a Account) (int, error) {
	killed := 0
	for attempt := 0; attempt < 20; attempt++ {
		pids, err := processesOf(a.UID)
		if err != nil {
			return killed, err
		}
		if len(pids) == 0 {
			return killed, nil
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil && attempt == 0 {
				killed++
			}
		}
		select {
		case <-ctx.Done():
			return killed, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	pids, _ := processesOf(a.UID)
	return killed, fmt.Errorf("processes of %s survive: %v", a.Name, pids)
}

// processesOf lists the pids whose real or effective uid is uid.
func processesOf(uid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ruid, euid, ok := procUIDs(pid)
		if ok && (ruid == uid || euid == uid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// procUIDs reads a process's real and effective uid. Zombies are left out:
// they are already dead and wait only for their parent to reap them.
func procUIDs(pid int) (ruid, euid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "State:" && f[1] == "Z":
			return 0, 0, false
		case len(f) >= 3 && f[0] == "Uid:":
			ruid, _ = strconv.Atoi(f[1])
			euid, _ = strconv.Atoi(f[2])
			ok = true
		}
	}
	return ruid, euid, ok
}

// Wipe empties the home. On btrfs the home subvolume is deleted, with any
// subvolume the student made in it, and made anew: the disk usage starts
// from zero. Elsewhere it works inside an os.Root, so a symlink a student
// left behind is removed as a link, never followed out of the home.
func (h *Host) Wipe(ctx context.Context, a Account) error {
	if _, err := os.Lstat(a.Home); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if h.diskQuota(ctx).Kind == DiskQuotaBtrfs {
		if err := h.removeHome(ctx, a); err != nil {
			return fmt.Errorf("wipe %s: %w", a.Name, err)
		}
		return h.makeHome(ctx, a)
	}
	if ok, err := isBtrfs(a.Home); err == nil && ok {
		// btrfs without its tools: the student's subvolumes still go.
		if err := destroyNestedAt(a.Home); err != nil {
			return fmt.Errorf("wipe %s: %w", a.Name, err)
		}
	}
	root, err := os.OpenRoot(a.Home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", a.Name, err)
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("wipe %s: %w", a.Name, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("wipe %s: %w", a.Name, err)
	}
	for _, n := range names {
		if err := root.RemoveAll(n); err != nil {
			return fmt.Errorf("wipe %s: %w", a.Name, err)
		}
	}
	return nil
}

// Populate fills a fresh home: the skeleton files and an ssh key pair that
// the student's own account trusts (workshops ssh to localhost).
func (h *Host) Populate(a Account) error {
	root, err := os.OpenRoot(a.Home)
	if err != nil {
		return fmt.Errorf("populate %s: %w", a.Name, err)
	}
	defer root.Close()
	skel := h.Skel
	if skel == "" {
		skel = "/etc/skel"
	}
	if err := copyTree(os.DirFS(skel), root); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("skel for %s: %w", a.Name, err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, a.Name+"@wod")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	authorized := bytes.TrimSpace(ssh.MarshalAuthorizedKey(sshPub))
	authorized = append(authorized, []byte(" "+a.Name+"@wod\n")...)
	if err := root.MkdirAll(".ssh", 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{".ssh/id_ed25519", pem.EncodeToMemory(block), 0o600},
		{".ssh/id_ed25519.pub", authorized, 0o644},
		{".ssh/authorized_keys", authorized, 0o600},
		{".ssh/config", []byte("Host localhost 127.0.0.1\n  StrictHostKeyChecking accept-new\n  LogLevel QUIET\n"), 0o600},
	} {
		if err := root.WriteFile(f.name, f.data, f.mode); err != nil {
			return fmt.Errorf("ssh keys of %s: %w", a.Name, err)
		}
	}
	return h.Own(a)
}

// Own gives everything in the home to the student, without following links.
func (h *Host) Own(a Account) error {
	root, err := os.OpenRoot(a.Home)
	if err != nil {
		return fmt.Errorf("own %s: %w", a.Name, err)
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(p, a.UID, a.GID)
	})
}

// copyTree copies regular files and directories of src into dst; links and
// devices in the source are skipped.
func copyTree(src fs.FS, dst *os.Root) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		switch {
		case d.IsDir():
			return dst.MkdirAll(p, 0o755)
		case d.Type().IsRegular():
			b, err := fs.ReadFile(src, p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return dst.WriteFile(p, b, info.Mode().Perm())
		}
		return nil
	})
}

// run runs a system command, with its output in the error.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// RemoveAccount deletes student n's account and home (tests, decommission).
func (h *Host) RemoveAccount(ctx context.Context, n int) error {
	a := h.Account(n)
	h.KillProcesses(ctx, a)
	if _, err := user.Lookup(a.Name); err == nil {
		if err := run(ctx, nil, "userdel", a.Name); err != nil {
			return err
		}
	}
	if _, err := user.LookupGroup(a.Name); err == nil {
		run(ctx, nil, "groupdel", a.Name)
	}
	if h.diskQuota(ctx).Kind == DiskQuotaUser {
		// The uid's limit would outlive the account.
		h.setDiskLimit(ctx, a, 0)
	}
	if _, err := removeTree(notebookRuntimeDir(a.UID), a.UID); err != nil {
		return fmt.Errorf("removing %s's runtime directory: %w", a.Name, err)
	}
	return h.removeHome(ctx, a)
}
