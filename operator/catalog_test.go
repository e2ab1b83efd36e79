package operator_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
)

// catalogService is the operator service on a real store, as app wires it
// (with strict content checks).
func catalogService(db *store.DB, clock wod.Clock) *operator.Service {
	return &operator.Service{Users: db, Tokens: db, Announcements: db, Workshops: db, Locations: db, LTI: db,
		Jobs: db, Events: db, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AgentTokens: db, StrictContent: true, Passwords: secret.CheapHasher()}
}

var boss = &wod.Caller{Name: "boss", Role: wod.RoleAdmin}

// auditOf returns the events of the kind, oldest first.
func auditOf(t *testing.T, db *store.DB, kind string) []*wod.Event {
	t.Helper()
	es, _, err := db.FindEvents(context.Background(), wod.EventFilter{Kind: &kind})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(es)
	return es
}

func mustLocation(t *testing.T, db *store.DB, name string, students int) *wod.Location {
	t.Helper()
	l := &wod.Location{Name: name, HubURL: "http://" + name + ".test:8000", Students: students}
	if err := db.CreateLocation(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

// writeContent makes a content directory holding the workshop folders, each
// a wod.yml and, when given, one notebook.
func writeContent(t *testing.T, workshops map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	for slug, files := range workshops {
		if err := os.MkdirAll(filepath.Join(dir, slug), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, slug, "wod.yml"), []byte(files[0]), 0o644); err != nil {
			t.Fatal(err)
		}
		if files[1] != "" {
			if err := os.WriteFile(filepath.Join(dir, slug, "1-Lab.ipynb"), []byte(files[1]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func notebook(text string) string {
	return `{"cells":[{"cell_type":"markdown","metadata":{},"source":"` + text + `"}],` +
		`"metadata":{},"nbformat":4,"nbformat_minor":4}`
}
