package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

// A full workshop's page offers the line; joining it leads to the status
// page with the place and the estimate, live; leaving is one click.
func TestWaitingLinePages(t *testing.T) {
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 1)
		form := func(name, email string) url.Values {
			return url.Values{"name": {name}, "email": {email}}
		}
		if res, _ := s.post("/workshops/WKSHP-A/register", form("Ann", "ann@example.com")); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("register: %d", res.StatusCode)
		}
		s.ready("Pw-Ann-1")
		// The full workshop's page: the button to wait instead of the one to register.
		code, page := s.get("/workshops/WKSHP-A")
		if code != 200 || !strings.Contains(page, `name="wait" value="1"`) || !strings.Contains(page, "Wait for a seat") {
			t.Fatalf("full workshop page: %d\n%s", code, page)
		}
		// Registering without waiting answers "full" and offers the line.
		res, page := s.post("/workshops/WKSHP-A/register", form("Bob", "bob@example.com"))
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, `data-code="full"`) ||
			!strings.Contains(page, "you can wait for one") || !strings.Contains(page, `id="wait"`) ||
			!strings.Contains(page, `value="bob@example.com"`) {
			t.Fatalf("full: %d\n%s", res.StatusCode, page)
		}
		f := form("Bob", "bob@example.com")
		f.Set("wait", "1")
		res, _ = s.post("/workshops/WKSHP-A/register", f)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/status/") {
			t.Fatalf("wait: %d %v", res.StatusCode, res.Header)
		}
		status := res.Header.Get("Location")
		code, page = s.get(status)
		if code != 200 || !strings.Contains(page, `data-state="waiting"`) || !strings.Contains(page, `id="place">number 1<`) ||
			!strings.Contains(page, `id="leave-line"`) || !strings.Contains(page, `action="`+status+`/leave"`) ||
			strings.Contains(page, "end-now") {
			t.Fatalf("waiting status page: %d\n%s", code, page)
		}
		// The estimate: Ann's end (two hours from now) plus the default cleanup.
		ready := s.mustReg("ann@example.com")
		want := ready.EndsAt.Add(30e9).UTC().Format("2006-01-02T15:04:05Z")
		code, frag := s.get(status + "/live")
		if code != 200 || strings.Contains(frag, "<html") || !strings.Contains(frag, `id="estimate"`) ||
			!strings.Contains(frag, want) || !strings.Contains(frag, `id="place">number 1<`) {
			t.Fatalf("live fragment (want the estimate %s): %d\n%s", want, code, frag)
		}
		// Operators see the waiter and their place.
		s.operator("ops", wod.RoleAdmin, "correct-horse-battery")
		s.login("ops", "correct-horse-battery")
		if code, page := s.get("/admin/registrations?state=waiting"); code != 200 || !strings.Contains(page, "place 1 in line") ||
			!strings.Contains(page, "Remove from line") {
			t.Fatalf("admin registrations: %d\n%s", code, page)
		}
		// One click leaves the line.
		res, _ = s.post(status+"/leave", url.Values{})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("leave: %d", res.StatusCode)
		}
		if _, frag = s.get(status + "/live"); !strings.Contains(frag, `id="left"`) || !strings.Contains(frag, "data-final") ||
			strings.Contains(frag, "leave-line") {
			t.Fatalf("after leaving: %s", frag)
		}
	})
}

func (s *site) mustReg(email string) *wod.Registration {
	s.t.Helper()
	rs, _, err := s.db.FindRegistrations(s.ctx, wod.RegistrationFilter{Email: &email})
	if err != nil || len(rs) == 0 {
		s.t.Fatalf("registration of %s: %v", email, err)
	}
	return rs[0]
}
