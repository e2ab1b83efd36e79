package web_test

import (
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// rehearsed stores a finished rehearsal of the workshop, on a real robot
// seat booked by the engine.
func (s *site) rehearsed(slug string, state wod.RehearsalState, nbs []wod.NotebookRun, msg string) *wod.Rehearsal {
	s.t.Helper()
	h := &wod.Rehearsal{Workshop: slug, RequestedBy: "schedule"}
	if err := s.db.CreateRehearsal(s.ctx, h); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.eng.RegisterRehearsal(s.ctx, h); err != nil {
		s.t.Fatal(err)
	}
	c := 100
	h.State, h.Notebooks, h.Error, h.Completion = state, nbs, msg, &c
	if err := s.db.UpdateRehearsal(s.ctx, h); err != nil {
		s.t.Fatal(err)
	}
	return h
}

func TestRehearsalPages(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-Green", "Green", 1, 3)
		s.workshop("WKSHP-Broken", "Broken", 4, 6)
		s.workshop("WKSHP-Never", "Never", 7, 9)
		s.rehearsed("WKSHP-Green", wod.RehearsalPassed, []wod.NotebookRun{{Path: "WKSHP-Green/1.ipynb", Kernel: "python3",
			Cells: []wod.CellRun{{Index: 0, Status: wod.CellOK, Output: "hello", Duration: time.Second}}}}, "")
		broken := s.rehearsed("WKSHP-Broken", wod.RehearsalFailed, []wod.NotebookRun{{Path: "WKSHP-Broken/1-Work.ipynb", Kernel: "python3",
			Cells: []wod.CellRun{
				{Index: 0, Status: wod.CellOK, Source: "x = 1", Duration: 20 * time.Millisecond},
				{Index: 2, Status: wod.CellError, Source: "1/0", EName: "ZeroDivisionError", EValue: "division by zero",
					Traceback: "Traceback (most recent call last)\n  Cell In[2], line 1\nZeroDivisionError: division by zero"},
				{Index: 3, Status: wod.CellSkipped, Source: "input()"},
			}}}, "1 failed (first: WKSHP-Broken/1-Work.ipynb, cell 2: error: ZeroDivisionError: division by zero)")

		s.operator("mod", wod.RoleModerator, "correct horse battery")
		s.login("mod", "correct horse battery")

		// The dashboard lists the workshop whose last rehearsal failed, only it.
		code, page := s.get("/admin")
		page = html.UnescapeString(page)
		if code != 200 || !strings.Contains(page, "Failed rehearsals") ||
			!strings.Contains(page, fmt.Sprintf(`href="/admin/workshops/WKSHP-Broken/rehearsals/%d"`, broken.ID)) ||
			!strings.Contains(page, "WKSHP-Broken/1-Work.ipynb, cell 2: error ZeroDivisionError: division by zero") ||
			strings.Contains(page, "/admin/workshops/WKSHP-Green/rehearsals/") {
			t.Fatalf("dashboard: %d\n%s", code, page)
		}

		// Each workshop's row: its last rehearsal, the first failing cell, the report one click away.
		code, page = s.get("/admin/workshops")
		page = html.UnescapeString(page)
		row := func(slug string) string {
			i := strings.Index(page, `id="workshop-`+slug+`"`)
			if i < 0 {
				t.Fatalf("no row for %s:\n%s", slug, page)
			}
			j := strings.Index(page[i:], "</tr>")
			return page[i : i+j]
		}
		if code != 200 || !strings.Contains(row("WKSHP-Green"), `rehearsal passed">passed`) ||
			!strings.Contains(row("WKSHP-Broken"), `rehearsal failed">failed`) ||
			!strings.Contains(row("WKSHP-Broken"), "cell 2: error ZeroDivisionError: division by zero") ||
			!strings.Contains(row("WKSHP-Never"), "never") {
			t.Fatalf("workshops: %d\n%s", code, page)
		}

		// The whole report.
		code, page = s.get(fmt.Sprintf("/admin/workshops/WKSHP-Broken/rehearsals/%d", broken.ID))
		page = html.UnescapeString(page)
		for _, want := range []string{"Rehearsal " + fmt.Sprint(broken.ID), "WKSHP-Broken/1-Work.ipynb", `tag cell ok">ok`,
			`tag cell error">error`, `tag cell skipped">skipped`, "20ms", "ZeroDivisionError: division by zero",
			"Cell In[2], line 1", "Completion measured at cleanup: <strong>100 %</strong>"} {
			if !strings.Contains(page, want) {
				t.Fatalf("report has no %q: %d\n%s", want, code, page)
			}
		}
		if code, _ := s.get(fmt.Sprintf("/admin/workshops/WKSHP-Green/rehearsals/%d", broken.ID)); code != 404 {
			t.Fatalf("another workshop's rehearsal: %d", code)
		}

		// Rehearse: this server has no hub executor, and says so.
		res, page := s.post("/admin/workshops/WKSHP-Green/rehearse", url.Values{"csrf": {s.csrf("/admin/workshops")}})
		if next := html.UnescapeString(s.afterAction(res, page)); !strings.Contains(next, "rehearsals need a hub executor") {
			t.Fatalf("rehearse without an executor:\n%s", next)
		}
	})
}
