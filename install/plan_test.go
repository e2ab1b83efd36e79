package install

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/config"
)

// dpkgStatus is a dpkg status file with these packages installed, and
// jupyterhub removed (its configuration kept), as on a machine where it
// once was.
func dpkgStatus(pkgs ...string) string {
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString("Package: " + p + "\nStatus: install ok installed\nPriority: optional\nVersion: 1.0\n" +
			"Description: " + p + "\n a package\n\n")
	}
	b.WriteString("Package: jupyterhub\nStatus: deinstall ok config-files\nVersion: 3.0.0\n\n")
	return b.String()
}

// freshRoot is a Debian root as debootstrap leaves it, as far as wod
// install reads it: the dpkg database of a minimal system.
func freshRoot(t *testing.T, pkgs ...string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(dpkgStatus(pkgs...)), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// snapshot is every file under root with its content and time.
func snapshot(t *testing.T, root string) map[string]string {
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
		data := ""
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data = string(b)
		}
		m[p] = info.Mode().String() + " " + info.ModTime().Format(time.RFC3339Nano) + " " + data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s changed %s", what, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s removed %s", what, p)
		}
	}
}

func testBinary(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "wod")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\necho wod\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return binary
}

// debootstrap's minimal system (Priority: required and important), as far
// as the roles care.
var minimal = []string{"base-files", "bash", "coreutils", "dpkg", "apt", "passwd", "login", "libc6"}

// TestDryRunFreshRoot: on a fresh Debian root, --dry-run plans what each
// role needs — the packages it lacks, with why, and every file — and
// changes nothing.
func TestDryRunFreshRoot(t *testing.T) {
	t.Parallel()
	root := freshRoot(t, minimal...)
	before := snapshot(t, root)
	var out bytes.Buffer
	in := &Service{Role: config.RoleUp, Binary: testBinary(t), Bin: "/usr/local/bin/wod", Data: "/var/lib/wod",
		DestDir: root, DryRun: true, Packages: true, Start: true, Out: &out,
		KernelspecDir: "/usr/local/share/jupyter/kernels", Settings: map[string]any{"data": "/var/lib/wod"}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	for _, want := range []string{
		"plan for wod up on " + root + " (dry run: nothing changed):",
		" 1. install packages: ca-certificates (", "jupyterhub (the hub the participants log in to)",
		"python3-ipykernel (the python3 kernel", "gcc (compiling the workshops' scripts)", "shc (",
		"quota (a disk limit per student", "chrony (time synchronisation",
		"install the binary at " + root + "/usr/local/bin/wod",
		"write wod's kernelspecs bash, ssh", "in " + root + "/usr/local/share/jupyter/kernels",
		"write the configuration " + root + "/etc/wod/up.yml",
		"write the sysctls the students' host needs " + root + "/etc/sysctl.d/90-wod.conf",
		"write the systemd unit " + root + "/etc/systemd/system/wod-up.service",
		// Debian's package enables a hub of its own, which would hold port
		// 8000 when the tree boots.
		"disable the distribution's jupyterhub service in " + root,
		"enable wod-up.service in " + root + " (it starts when the tree boots)",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "passwd (") {
		t.Errorf("plans an installed package:\n%s", plan)
	}
	sameTree(t, "the dry run", before, snapshot(t, root))

	// A server with its own PostgreSQL: the package, and the database the
	// configuration names.
	out.Reset()
	in = &Service{Role: config.RoleServer, Binary: in.Binary, Bin: "/usr/local/bin/wod", Data: "/var/lib/wod",
		DestDir: root, DryRun: true, Packages: true, Postgres: true, Out: &out, Settings: map[string]any{"data": "/var/lib/wod"}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if plan := out.String(); !strings.Contains(plan, "postgresql (the server's database, --postgres)") ||
		strings.Contains(plan, "jupyterhub") || strings.Contains(plan, "kernelspecs") || strings.Contains(plan, "sysctl") {
		t.Errorf("server plan:\n%s", plan)
	}
	if in.Settings["db"] != PostgresDSN {
		t.Errorf("--postgres configures %v", in.Settings["db"])
	}
	sameTree(t, "the server's dry run", before, snapshot(t, root))

	// An agent driving an existing hub needs no hub of its own.
	out.Reset()
	in = &Service{Role: config.RoleAgent, Binary: in.Binary, Bin: "/usr/local/bin/wod", DestDir: root, DryRun: true,
		Packages: true, Out: &out, Settings: map[string]any{"hub-api": "https://hub.example.org"}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if plan := out.String(); strings.Contains(plan, "jupyterhub") || !strings.Contains(plan, "shc") {
		t.Errorf("agent with an external hub:\n%s", plan)
	}
	if err := (&Service{Role: config.RoleUp, Postgres: true, DestDir: root, Out: &out}).Run(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "--postgres is for --role server") {
		t.Fatalf("up with --postgres: %v", err)
	}
}

// TestIdempotent: under a root whose packages are all there, a first run
// writes the files; a second changes nothing and says so; a changed
// setting rewrites the configuration alone.
func TestIdempotent(t *testing.T) {
	t.Parallel()
	root := freshRoot(t, append(minimal, "ca-certificates", "jupyterhub", "python3-ipykernel", "gcc", "shc", "quota",
		"btrfs-progs", "systemd-timesyncd")...)
	binary := testBinary(t)
	run := func(settings map[string]any, dry bool) string {
		t.Helper()
		var out bytes.Buffer
		in := &Service{Role: config.RoleUp, Binary: binary, Bin: "/usr/local/bin/wod", Data: "/var/lib/wod",
			DestDir: root, Packages: true, DryRun: dry, Start: true, Out: &out,
			KernelspecDir: "/usr/local/share/jupyter/kernels", Settings: settings}
		if err := in.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	settings := func(students string) map[string]any {
		return map[string]any{"data": "/var/lib/wod", "students": students}
	}
	first := run(settings("30"), false)
	if strings.Contains(first, "install packages") || !strings.Contains(first, "is set up for wod up (6 changes)") {
		t.Fatalf("first run:\n%s", first)
	}
	for _, f := range []string{"etc/wod/up.yml", "etc/systemd/system/wod-up.service", "etc/sysctl.d/90-wod.conf",
		"usr/local/bin/wod", "usr/local/share/jupyter/kernels/bash/kernel.json"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("first run: %v", err)
		}
	}
	if link, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/wod-up.service")); err != nil ||
		link != "/etc/systemd/system/wod-up.service" {
		t.Errorf("not enabled in the tree: %q %v", link, err)
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/wod-up.service"))
	if !bytes.Contains(unit, []byte("LimitNOFILE=65536")) {
		t.Errorf("the students' servers inherit few open files:\n%s", unit)
	}
	written := snapshot(t, root)
	if second := run(settings("30"), false); second != "nothing to change: "+root+" is set up for wod up\n" {
		t.Fatalf("second run:\n%s", second)
	}
	sameTree(t, "the second run", written, snapshot(t, root))
	if dry := run(settings("40"), true); !strings.Contains(dry, " 1. write the configuration") || strings.Contains(dry, " 2. ") {
		t.Fatalf("a changed setting plans more than the configuration:\n%s", dry)
	}
	if third := run(settings("40"), false); !strings.Contains(third, "(1 changes)") {
		t.Fatalf("third run:\n%s", third)
	}
	if cfg, _ := os.ReadFile(filepath.Join(root, "etc/wod/up.yml")); !bytes.Contains(cfg, []byte(`students: "40"`)) {
		t.Fatalf("configuration:\n%s", cfg)
	}
}

func TestDpkgStatus(t *testing.T) {
	root := freshRoot(t, "gcc", "passwd")
	got, ok := dpkgInstalled(filepath.Join(root, "var/lib/dpkg/status"))
	if !ok || !got["gcc"] || !got["passwd"] || got["jupyterhub"] || len(got) != 2 {
		t.Fatalf("installed: %v %v", got, ok)
	}
	if _, ok := dpkgInstalled(filepath.Join(root, "nothing")); ok {
		t.Fatal("no status file read as one")
	}
	// Not a Debian root: the packages are the operator's, said in a note.
	var out bytes.Buffer
	in := &Service{Role: config.RoleAgent, Binary: testBinary(t), Bin: "/usr/local/bin/wod", DestDir: t.TempDir(),
		DryRun: true, Packages: true, Out: &out, Settings: map[string]any{}}
	if err := in.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "note: no dpkg database at") || !strings.Contains(out.String(), "with the system's tools") {
		t.Fatalf("%s", out.String())
	}
}

// TestRootTools: under a tree, the ids of its accounts are its own, its
// own policy-rc.d is kept, and Debian's hub is disabled as `systemctl
// disable` does.
func TestRootTools(t *testing.T) {
	root := freshRoot(t, minimal...)
	in := &Service{Role: config.RoleServer, DestDir: root, Out: &bytes.Buffer{}}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\nwod:x:998:997::/nonexistent:/usr/sbin/nologin\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if uid, gid, err := in.account("wod"); err != nil || uid != 998 || gid != 997 {
		t.Fatalf("the tree's wod: %d %d %v", uid, gid, err)
	}
	if _, _, err := in.account("nobody"); err == nil {
		t.Fatal("a user the tree lacks")
	}

	// A policy-rc.d of ours comes and goes; the tree's own stays.
	restore, err := in.forbidServiceStarts()
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(root, policyRcD)); err != nil || !bytes.Contains(data, []byte("exit 101")) {
		t.Fatalf("policy-rc.d: %v %s", err, data)
	}
	restore()
	if _, err := os.Lstat(filepath.Join(root, policyRcD)); err == nil {
		t.Fatal("policy-rc.d left behind")
	}
	own := []byte("#!/bin/sh\nexit 0\n")
	if err := os.WriteFile(filepath.Join(root, policyRcD), own, 0o755); err != nil {
		t.Fatal(err)
	}
	restore, err = in.forbidServiceStarts()
	if err != nil {
		t.Fatal(err)
	}
	restore()
	if data, _ := os.ReadFile(filepath.Join(root, policyRcD)); !bytes.Equal(data, own) {
		t.Fatalf("the tree's own policy-rc.d: %s", data)
	}

	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/lib/systemd/system/jupyterhub.service", filepath.Join(wants, "jupyterhub.service")); err != nil {
		t.Fatal(err)
	}
	if !in.enabledInRoot("jupyterhub.service") {
		t.Fatal("the link is not seen")
	}
	if err := in.disableDistributionHub(context.Background()); err != nil || in.enabledInRoot("jupyterhub.service") {
		t.Fatalf("still enabled: %v", err)
	}
}
