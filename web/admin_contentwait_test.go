package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

		// The site has a location: the wait imports there and ends.
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
