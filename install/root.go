package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// What install does differently under DestDir (--root), a tree being set
// up — a chroot, an image — rather than the running machine: the tree's
// own tools (chroot DIR useradd, apt-get, deb-systemd-helper) and its own
// accounts; services are enabled for when it boots, never started now.

// policyRcD is Debian's hook invoke-rc.d asks before a package's
// maintainer script starts its service: 101 forbids it. While apt-get
// installs into DestDir, nothing the packages bring (JupyterHub's hub on
// port 8000, PostgreSQL, chrony) may start on the machine doing the work.
const policyRcD = "/usr/sbin/policy-rc.d"

var policyRcDScript = []byte("#!/bin/sh\n# Written by wod install --root while apt-get installs into this tree, removed after:\n" +
	"# no service starts in a tree being set up (invoke-rc.d: 101 = action forbidden).\nexit 101\n")

// forbidServiceStarts writes policy-rc.d in DestDir unless the tree has one
// of its own (an image builder's), and returns what removes it again.
func (in *Service) forbidServiceStarts() (restore func(), err error) {
	path := in.dest(policyRcD)
	if _, err := os.Lstat(path); err == nil {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := os.WriteFile(path, policyRcDScript, 0o755); err != nil {
		return nil, fmt.Errorf("install: forbidding service starts in %s: %w", in.DestDir, err)
	}
	return func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(in.Out, "warning: could not remove %s: %v\n", path, err)
		}
	}, nil
}

// account is the uid and gid of a user of the machine being set up: this
// machine's, or DestDir's own (its /etc/passwd: a tree's ids need not be
// this machine's).
func (in *Service) account(name string) (uid, gid int, err error) {
	if in.system() {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, 0, fmt.Errorf("install: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		return uid, gid, nil
	}
	data, err := os.ReadFile(in.dest("/etc/passwd"))
	if err != nil {
		return 0, 0, fmt.Errorf("install: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("install: %s: bad entry for %s", in.dest("/etc/passwd"), name)
		}
		return uid, gid, nil
	}
	return 0, 0, fmt.Errorf("install: no user %s in %s", name, in.dest("/etc/passwd"))
}

// canAddUsers reports whether the machine being set up has useradd (a
// tree that is not a Debian system yet may not).
func (in *Service) canAddUsers() bool {
	if in.system() {
		return true
	}
	_, err := os.Stat(in.dest("/usr/sbin/useradd"))
	return err == nil
}

// inRoot runs a command of DestDir's own, chrooted into it.
func (in *Service) inRoot(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "chroot", append([]string{in.DestDir}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("install: chroot %s %s: %v: %s", in.DestDir, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// wantsLink is where `systemctl enable` links a unit of multi-user.target.
func wantsLink(unit string) string {
	return filepath.Join(unitDir, "multi-user.target.wants", unit)
}

// enabledInRoot reports whether DestDir starts the unit when it boots.
func (in *Service) enabledInRoot(unit string) bool {
	_, err := os.Lstat(in.dest(wantsLink(unit)))
	return err == nil
}

// enableInRoot links the unit as `systemctl enable` would, for the tree's
// boot: there is no systemd to ask here.
func (in *Service) enableInRoot(unit string) error {
	link := in.dest(wantsLink(unit))
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Symlink(filepath.Join(unitDir, unit), link); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("install: enabling %s in %s: %w", unit, in.DestDir, err)
	}
	return nil
}

// disableDistributionHub stops DestDir from starting Debian's jupyterhub
// service at boot (its hub would hold port 8000 before wod's) as
// `systemctl disable` does: the links to the unit under /etc/systemd/system
// go. An upgrade of the package keeps it so: its maintainer script enables
// the unit again only where it was enabled.
func (in *Service) disableDistributionHub(context.Context) error {
	const unit = "jupyterhub.service"
	links, err := filepath.Glob(in.dest(filepath.Join(unitDir, "*", unit)))
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	for _, link := range links {
		info, err := os.Lstat(link)
		if err != nil || info.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if err := os.Remove(link); err != nil {
			return fmt.Errorf("install: disabling %s in %s: %w", unit, in.DestDir, err)
		}
		fmt.Fprintf(in.Out, "removed %s\n", link)
	}
	return nil
}
