package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/store"
)

// kernelContent writes a content directory whose WKSHP-GO101 runs on bash
// and gophernotes.
func kernelContent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "WKSHP-GO101")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ws, "wod.yml"), []byte("name: Go\nrange: [1,3]\n"), 0o644)
	for name, kernel := range map[string]string{"0-ReadMeFirst.ipynb": "bash", "1-WKSHP-Go.ipynb": "gophernotes"} {
		nb := `{"cells":[],"metadata":{"kernelspec":{"name":"` + kernel + `","display_name":"x","language":"x"}},"nbformat":4,"nbformat_minor":4}`
		if err := os.WriteFile(filepath.Join(ws, name), []byte(nb), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKernelsCheck: a kernel an active workshop needs and its location
// lacks fails wod check; a location that never reported is a warning; the
// agent role, which cannot tell active workshops, warns.
func TestKernelsCheck(t *testing.T) {
	ctx := context.Background()
	dir := kernelContent(t)
	data := t.TempDir()
	cfg := configure(t, "--data", data)
	db, err := store.Open(ctx, cfg.DB, wod.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hub1", "hub2"} {
		l := &wod.Location{Name: name, Students: 10}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		slug := "WKSHP-GO101"
		if name == "hub2" {
			slug = "WKSHP-GO102"
			if err := os.CopyFS(filepath.Join(dir, slug), os.DirFS(filepath.Join(dir, "WKSHP-GO101"))); err != nil {
				t.Fatal(err)
			}
		} else if err := db.SetLocationKernels(ctx, l.ID, []string{"bash", "python3"}); err != nil {
			t.Fatal(err)
		}
		w := &wod.Workshop{Slug: slug, Title: "Go", Duration: wod.Duration(time.Hour), Capacity: 3, SeatMin: 1, SeatMax: 3,
			LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop, ContentDir: dir}
		if err := db.CreateWorkshop(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	cs := find((&Checker{Config: cfg}).Run(ctx, config.RoleServer), "kernels")
	if len(cs) != 2 || cs[0].Status != Fail || cs[0].Detail != "WKSHP-GO101: kernel gophernotes is not installed on hub1 (1 notebook)" ||
		cs[1].Status != Warn || !strings.Contains(cs[1].Detail, "location hub2 has not reported its kernels") {
		t.Fatalf("server role: %+v", cs)
	}

	// The agent reads the content and knows its host.
	cfg = configure(t, "--data", t.TempDir(), "--content", dir)
	c := &Checker{Config: cfg, HostKernels: []string{"bash", "python3"}}
	cs = find(c.Run(ctx, config.RoleAgent), "kernels")
	if len(cs) != 2 || cs[0].Status != Warn || cs[0].Detail != "WKSHP-GO101: kernel gophernotes is not installed on this host (1 notebook)" {
		t.Fatalf("agent role: %+v", cs)
	}
	c.HostKernels = []string{"bash", "gophernotes", "python3"}
	cs = find(c.Run(ctx, config.RoleAgent), "kernels")
	if len(cs) != 1 || cs[0].Status != OK {
		t.Fatalf("agent role with every kernel: %+v", cs)
	}
}
