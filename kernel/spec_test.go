package kernel_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wod-dev/wod/kernel"
)

func readSpec(t *testing.T, path string) kernel.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s kernel.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func actions(in []kernel.Installed) map[string]kernel.Action {
	m := map[string]kernel.Action{}
	for _, i := range in {
		m[i.Name] = i.Action
	}
	return m
}

func TestInstallWritesWodKernels(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share", "jupyter", "kernels")
	in, err := kernel.Install(dir, "/usr/local/bin/wod")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kernel.Action{"bash": kernel.Created, "ssh": kernel.Created, "gophernotes": kernel.Created}
	if got := actions(in); !maps.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	for _, c := range []struct{ name, display, lang string }{
		{"bash", "Bash", "bash"}, {"ssh", "SSH", "bash"}, {"gophernotes", "Go", "go"},
	} {
		path := filepath.Join(dir, c.name, "kernel.json")
		s := readSpec(t, path)
		if !slices.Equal(s.Argv, []string{"/usr/local/bin/wod", "kernel", c.name, "-f", "{connection_file}"}) ||
			s.DisplayName != c.display || s.Language != c.lang || s.InterruptMode != "signal" {
			t.Errorf("%s: %+v", c.name, s)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v: the students' servers must read it", path, fi.Mode(), err)
		}
	}
	// Nothing left behind by the atomic writes.
	entries, _ := os.ReadDir(filepath.Join(dir, "bash"))
	if len(entries) != 1 {
		t.Errorf("bash/ holds %d entries, want kernel.json alone", len(entries))
	}
	in, err = kernel.Install(dir, "/usr/local/bin/wod")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range in {
		if i.Action != kernel.Unchanged {
			t.Errorf("second install: %s %s", i.Name, i.Action)
		}
	}
}

func TestInstallUpdatesOlderWodLeavesSiteKernel(t *testing.T) {
	dir := t.TempDir()
	if _, err := kernel.Install(dir, "/opt/wod-1.0/wod"); err != nil {
		t.Fatal(err)
	}
	// The site installed pip's bash_kernel under the same name.
	site := `{"argv": ["/usr/bin/python3", "-m", "bash_kernel", "-f", "{connection_file}"], "display_name": "Bash", "language": "bash"}`
	if err := os.WriteFile(filepath.Join(dir, "bash", "kernel.json"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := kernel.Install(dir, "/usr/local/bin/wod")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kernel.Action{"bash": kernel.SiteKernel, "ssh": kernel.Updated, "gophernotes": kernel.Updated}
	if got := actions(in); !maps.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "bash", "kernel.json")); string(data) != site {
		t.Errorf("the site's bash kernel was changed: %s", data)
	}
	if s := readSpec(t, filepath.Join(dir, "ssh", "kernel.json")); s.Argv[0] != "/usr/local/bin/wod" {
		t.Errorf("ssh still runs %s", s.Argv[0])
	}
	for _, i := range in {
		if i.Name == "bash" && i.Argv0 != "/usr/bin/python3" {
			t.Errorf("site kernel's argv0 %q", i.Argv0)
		}
	}
}

func TestInstallRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A planted kernel.json link, and a planted kernel directory link.
	if err := os.Mkdir(filepath.Join(dir, "bash"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "bash", "kernel.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "ssh")); err != nil {
		t.Fatal(err)
	}
	in, err := kernel.Install(dir, "/usr/local/bin/wod")
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error %v, want the links refused", err)
	}
	if got := actions(in); !maps.Equal(got, map[string]kernel.Action{"gophernotes": kernel.Created}) {
		t.Errorf("actions %v: only gophernotes is safe to write", got)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Errorf("written through a link: %q", data)
	}
	if _, err := os.Stat(filepath.Join(outside, "kernel.json")); err == nil {
		t.Error("wrote into the directory a link pointed to")
	}
	// The kernels directory itself as a link.
	link := filepath.Join(t.TempDir(), "kernels")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.Install(link, "/usr/local/bin/wod"); err == nil {
		t.Error("installed through a linked kernels directory")
	}
}

func TestInstallRefusesOthersDirectoryAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership is checked when running as root")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, 57001, 57001); err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.Install(dir, "/usr/local/bin/wod"); err == nil || !strings.Contains(err.Error(), "uid 57001") {
		t.Fatalf("error %v: a student's directory must be refused", err)
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.Install(dir, "/usr/local/bin/wod"); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("error %v: a world-writable directory must be refused", err)
	}
}

func TestScan(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	mk := func(dir, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "kernel.json"), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(first, "bash")
	mk(first, "Python3")
	mk(second, "python3")
	mk(second, "rust")
	mk(second, "bad name")
	if err := os.Mkdir(filepath.Join(second, "nospec"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := kernel.Scan([]string{first, filepath.Join(first, "missing"), second})
	want := []kernel.Found{{"bash", first}, {"python3", first}, {"rust", second}}
	if !slices.Equal(got, want) {
		t.Fatalf("Scan = %v, want %v", got, want)
	}
	if n := kernel.Names(got); !slices.Equal(n, []string{"bash", "python3", "rust"}) {
		t.Errorf("Names = %v", n)
	}
}

func TestPathsOrder(t *testing.T) {
	p := kernel.Paths{JupyterPath: "/a/:/b", UserDirs: []string{"/home/u/.local/share/jupyter"},
		Prefixes: []string{"/opt/venv", "/usr"}}
	want := []string{"/a", "/b", "/home/u/.local/share/jupyter", "/opt/venv/share/jupyter",
		"/usr/local/share/jupyter", "/usr/share/jupyter"}
	if got := p.DataDirs(); !slices.Equal(got, want) {
		t.Errorf("DataDirs = %v, want %v", got, want)
	}
	p.PreferEnv = true
	if got := p.DataDirs(); got[2] != "/opt/venv/share/jupyter" {
		t.Errorf("with JUPYTER_PREFER_ENV_PATH: %v", got)
	}
	if !p.Has("/usr/local/share/jupyter/kernels/") || p.Has("/srv/jupyter/kernels") {
		t.Error("Has")
	}
	if got := kernel.JupyterPathFor("/srv/jupyter/kernels", "no-such-hub"); got != "/srv/jupyter" {
		t.Errorf("JupyterPathFor = %q", got)
	}
	if got := kernel.JupyterPathFor(kernel.DefaultSpecDir, "no-such-hub"); got != "" {
		t.Errorf("JupyterPathFor(default) = %q", got)
	}
}
