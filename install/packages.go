package install

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/wod-dev/wod/config"
)

// Package is a distribution package a role needs, and why.
type Package struct {
	Name, Why string
}

// btrfsMagic is the statfs type of a btrfs filesystem.
const btrfsMagic = 0x9123683E

// ntpPackages keep the clock synchronised; one is enough.
var ntpPackages = []string{"systemd-timesyncd", "chrony", "ntp", "ntpsec", "openntpd"}

// rolePackages are the Debian packages the role needs on this machine:
// for a role running an agent, the hub and its python3 kernel (unless it
// drives an existing hub), the compilers of the workshops' scripts, the
// account tools, the student root's disk limits (btrfs subvolumes and
// qgroups, or user quotas), a time client; PostgreSQL for a server asked
// to run its own.
func rolePackages(role string, externalHub, studentRootBtrfs, postgres bool, installed map[string]bool) []Package {
	ps := []Package{{"ca-certificates", "TLS to the server, the content repositories and SMTP relays"}}
	if role != config.RoleServer {
		if !externalHub {
			ps = append(ps, Package{"jupyterhub", "the hub the participants log in to"},
				Package{"python3-ipykernel", "the python3 kernel of the notebooks"})
		}
		ps = append(ps, Package{"passwd", "the students' accounts: useradd, chpasswd"},
			Package{"gcc", "compiling the workshops' scripts"}, Package{"shc", "compiling the workshops' scripts"})
		if studentRootBtrfs {
			ps = append(ps, Package{"btrfs-progs", "a subvolume and a disk limit per student home"})
		} else {
			ps = append(ps, Package{"quota", "a disk limit per student, as user quotas"})
		}
		if !slices.ContainsFunc(ntpPackages, func(p string) bool { return installed[p] }) {
			ps = append(ps, Package{"chrony", "time synchronisation: session ends, signatures"})
		}
	}
	if postgres {
		ps = append(ps, Package{"postgresql", "the server's database, --postgres"})
	}
	return ps
}

// missing are the packages not installed.
func missing(ps []Package, installed map[string]bool) []Package {
	var out []Package
	for _, p := range ps {
		if !installed[p.Name] {
			out = append(out, p)
		}
	}
	return out
}

// dpkgInstalled reads a dpkg status file: the packages whose status is
// "install ok installed". ok is false when there is no such file (not a
// Debian system, or not one yet).
func dpkgInstalled(path string) (installed map[string]bool, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	installed = map[string]bool{}
	var name string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			name = ""
		case strings.HasPrefix(line, "Package: "):
			name = strings.TrimSpace(strings.TrimPrefix(line, "Package: "))
		case strings.HasPrefix(line, "Status: ") && name != "":
			if strings.HasSuffix(strings.TrimSpace(line), " installed") && strings.Contains(line, "install ok") {
				installed[name] = true
			}
		}
	}
	return installed, true
}

// isBtrfs reports whether path (or its nearest existing parent) is on
// btrfs.
func isBtrfs(path string) bool {
	for {
		if _, err := os.Stat(path); err == nil || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path)
	}
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && st.Type == btrfsMagic
}

func names(ps []Package) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
