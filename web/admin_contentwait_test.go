package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// TestDashboardContentWaits: while the server's content waits for a
// location, the dashboard says so and how to add one; once it is
// imported, the notice is gone.
func TestDashboardContentWaits(t *testing.T) {
	forEach(t, func(t *testing.T, s *site) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "WKSHP-Waits"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "WKSHP-Waits", "wod.yml"), []byte("name: Waits\nrange: [1,3]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.ops.ContentWait = operator.NewContentWait([]string{dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		s.operator("mod", "moderator", "correct horse battery")
		s.login("mod", "correct horse battery")
		code, page := s.get("/admin")
		if code != http.StatusOK {
			t.Fatalf("dashboard: %d", code)
		}
		noInlineCode(t, "dashboard", page)
		wantIn(t, "dashboard", page, `id="content-waits"`, "The content waits for a location.",
			"wod location add NAME --hub-url URL --students N")
		if strings.Contains(page, `id="add-location"`) {
			t.Fatal("a moderator is offered the form that adds a location")
		}

		// An admin adds one from the dashboard; a bad one is refused with
		// the reason.
		s.operator("adm", "admin", "correct horse battery staple")
		s.login("adm", "correct horse battery staple")
		_, page = s.get("/admin")
		wantIn(t, "dashboard", page, `id="add-location"`, `action="/admin/locations"`)
		csrf := s.csrf("/admin")
		page = s.afterAction(s.post("/admin/locations", url.Values{"csrf": {csrf}, "name": {"Bad Name"}, "hub_url": {"http://x"}, "students": {"3"}}))
		wantIn(t, "dashboard", page, "Not done:", "name must be 1-63 lower-case letters")
		page = s.afterAction(s.post("/admin/locations", url.Values{"csrf": {csrf}, "name": {"hub2"}, "hub_url": {"https://hub2.example.com"},
			"students": {"4"}, "base_student_id": {"40"}}))
		wantIn(t, "dashboard", page, "Location hub2 added with 4 seats", `<a href="https://hub2.example.com">`)
		if l, err := s.db.FindLocation(s.ctx, "hub2"); err != nil || l.Students != 4 || l.BaseStudentID != 40 || l.Kind != wod.LocationAgent {
			t.Fatalf("location added by the form: %+v %v", l, err)
		}
		// An original backend: its command mail address is required.
		wantIn(t, "dashboard", page, `<select id="loc-kind" name="kind">`, `name="backend_email"`)
		page = s.afterAction(s.post("/admin/locations", url.Values{"csrf": {csrf}, "name": {"old1"}, "hub_url": {"https://old1.example.com"},
			"students": {"4"}, "base_student_id": {"100"}, "kind": {"legacy"}}))
		wantIn(t, "dashboard", page, "Not done:", "is required for a legacy location")
		page = s.afterAction(s.post("/admin/locations", url.Values{"csrf": {csrf}, "name": {"old1"}, "hub_url": {"https://old1.example.com"},
			"students": {"4"}, "base_student_id": {"100"}, "kind": {"legacy"}, "backend_email": {"wod@old1.example.com"}}))
		wantIn(t, "dashboard", page, "Location old1 added with 4 seats. Its command mails go to wod@old1.example.com.")
		if l, err := s.db.FindLocation(s.ctx, "old1"); err != nil || !l.Legacy() || l.BackendEmail != "wod@old1.example.com" {
			t.Fatalf("legacy location added by the form: %+v %v", l, err)
		}

		// The wait imports at the oldest location and ends.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { s.ops.ContentWait.Run(ctx, s.ops); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("the content was not imported")
		}
		if _, err := s.db.FindWorkshop(s.ctx, "WKSHP-Waits"); err != nil {
			t.Fatalf("imported workshop: %v", err)
		}
		if _, page := s.get("/admin"); strings.Contains(page, "content-waits") {
			t.Fatal("the notice stays after the import")
		}
	})
}
