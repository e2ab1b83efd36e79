package preflight

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/store"
)

// configure resolves a configuration from flags, as wod check does.
func configure(t *testing.T, args ...string) *config.Config {
	t.Helper()
	var c config.Config
	fs := pflag.NewFlagSet("wod", pflag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return &c
}

func find(cs []Check, name string) []Check {
	var out []Check
	for _, c := range cs {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// TestServerRole: a fresh server is ready to start, the checks come in the
// order wod check prints them, and nothing is created.
func TestServerRole(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := configure(t, "--data", data, "--addr", "127.0.0.1:8080")
	cs := (&Checker{Config: cfg}).Run(context.Background(), config.RoleServer)
	var names []string
	for _, c := range cs {
		// The firewall is this machine's, whatever the configuration.
		if c.Status == Fail && c.Name != "firewall" {
			t.Errorf("fresh server: %+v", c)
		}
		names = append(names, c.Name)
	}
	if want := []string{"data", "database", "smtp", "public URL", "tls certificate", "content", "kernels", "time sync", "firewall"}; !slices.Equal(names, want) {
		t.Fatalf("checks %v, want %v", names, want)
	}
	if c := find(cs, "database")[0]; c.Status != OK || !strings.Contains(c.Detail, "created at the first start") {
		t.Fatalf("database: %+v", c)
	}
	if c := find(cs, "smtp")[0]; c.Status != Warn || !strings.Contains(c.Detail, "outbox") {
		t.Fatalf("smtp: %+v", c)
	}
	if c := find(cs, "content")[0]; c.Status != Skip {
		t.Fatalf("content: %+v", c)
	}
	if _, err := os.Stat(data); err == nil {
		t.Fatal("the check created the data directory")
	}

	// With a data directory and a migrated database: its schema and the keys.
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.DB, wod.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.WriteFile(filepath.Join(data, "signing.key"), []byte("k"), 0o644)
	cs = (&Checker{Config: cfg}).Run(context.Background(), config.RoleServer)
	if c := find(cs, "database")[0]; c.Status != OK || !strings.Contains(c.Detail, "schema current") {
		t.Fatalf("database: %+v", c)
	}
	if c := find(cs, "disk (data)"); len(c) != 1 {
		t.Fatalf("disk: %+v", cs)
	}
	var readable bool
	for _, c := range find(cs, "keys") {
		readable = readable || c.Status == Fail && strings.Contains(c.Detail, "others can read it")
	}
	if !readable {
		t.Fatalf("a readable key passed: %+v", find(cs, "keys"))
	}
}

// TestContentCheck: content that would not render fails the check, or
// warns with --content-check warn, and renders with the variables given.
func TestContentCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "WKSHP-Tpl"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "WKSHP-Tpl", "wod.yml"), []byte("name: Tpl\nrange: [1,3]\n"), 0o644)
	nb := `{"cells":[{"cell_type":"markdown","metadata":{},"source":"port {{ HTTPPORT }} for student{{ STDID }}"}],` +
		`"metadata":{},"nbformat":4,"nbformat_minor":4}`
	os.WriteFile(filepath.Join(dir, "WKSHP-Tpl", "1-Lab.ipynb"), []byte(nb), 0o644)
	data := t.TempDir()

	for _, tc := range []struct {
		check string
		vars  content.Vars
		want  Status
	}{
		{"strict", nil, Fail},
		{"warn", nil, Warn},
		{"strict", content.Vars{"HTTPPORT": "8888"}, OK},
	} {
		cfg := configure(t, "--data", data, "--content", dir, "--content-check", tc.check)
		cs := find((&Checker{Config: cfg, Vars: tc.vars}).Run(context.Background(), config.RoleServer), "content")
		if len(cs) != 1 || cs[0].Status != tc.want || tc.want != OK && !strings.Contains(cs[0].Detail, "HTTPPORT") {
			t.Errorf("--content-check %s, vars %v: %+v, want %s", tc.check, tc.vars, cs, tc.want)
		}
	}
}
