package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// The portal shows when a workshop yet to open opens and offers no booking
// before; a closed workshop is not offered, and its old link says it
// closed. Operators set the dates on the admin workshop page.
func TestWorkshopDatesPortal(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-Soon", "Coming soon", 1, 3)
		s.workshop("WKSHP-Now", "Open now", 4, 6)
		s.workshop("WKSHP-Over", "All over", 7, 8)
		opens := s.clock.Now().Add(26 * time.Hour).UTC().Truncate(time.Minute)
		closes := s.clock.Now().Add(time.Hour).UTC().Truncate(time.Minute)
		past := s.clock.Now().Add(-time.Minute)
		for slug, u := range map[string]wod.WorkshopUpdate{
			"WKSHP-Soon": {Opens: &opens},
			"WKSHP-Now":  {Closes: &closes},
			"WKSHP-Over": {Closes: &past},
		} {
			if _, err := s.db.UpdateWorkshop(s.ctx, slug, u); err != nil {
				t.Fatal(err)
			}
		}

		_, page := s.get("/")
		mustShow(t, "the catalogue", page, "Coming soon", "Open now", "Not open yet",
			`<time datetime="`+opens.Format(time.RFC3339)+`">`+opens.Format("Mon 2 Jan 15:04 UTC")+`</time>`,
			`href="/workshops/WKSHP-Now#register"`)
		if strings.Contains(page, "All over") || strings.Contains(page, `href="/workshops/WKSHP-Soon#register"`) {
			t.Fatalf("the catalogue offers a closed workshop or books one not open yet:\n%s", page)
		}

		code, page := s.get("/workshops/WKSHP-Soon")
		mustShow(t, "the page of a workshop not open yet", page, `id="not-open"`, `id="opens"`,
			"Registration opens on", opens.Format("Mon 2 Jan 15:04 UTC"))
		if code != http.StatusOK || strings.Contains(page, `action="/workshops/WKSHP-Soon/register"`) {
			t.Fatalf("a workshop not open yet offers its form (%d):\n%s", code, page)
		}
		// A form posted anyway is refused by the booking itself.
		form := url.Values{"name": {"Ann"}, "email": {"ann@example.com"}, "company": {"Acme"}}
		res, page := s.post("/workshops/WKSHP-Soon/register", form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("booking before the opening: %d\n%s", res.StatusCode, page)
		}
		if rs, n, _ := s.db.FindRegistrations(s.ctx, wod.RegistrationFilter{}); n != 0 {
			t.Fatalf("registrations before the opening: %v", rs)
		}

		_, page = s.get("/workshops/WKSHP-Now")
		mustShow(t, "the page of a workshop that closes", page, `id="closes"`, "Open until",
			closes.Format("Mon 2 Jan 15:04 UTC"), `action="/workshops/WKSHP-Now/register"`)

		code, page = s.get("/workshops/WKSHP-Over")
		if code != http.StatusNotFound || !strings.Contains(page, "Registration for this workshop closed on "+
			past.UTC().Format("Mon 2 Jan 15:04 UTC")) {
			t.Fatalf("a closed workshop's page (%d):\n%s", code, page)
		}
		if res, _ := s.post("/workshops/WKSHP-Over/register", form); res.StatusCode != http.StatusNotFound {
			t.Fatalf("booking a closed workshop: %d", res.StatusCode)
		}

		// The clock reaches the opening: the card and the page offer booking.
		s.clock.Advance(26 * time.Hour)
		_, page = s.get("/")
		mustShow(t, "the catalogue at the opening", page, `href="/workshops/WKSHP-Soon#register"`)
		if strings.Contains(page, "Open now") {
			t.Fatalf("a workshop past its closing time is still offered:\n%s", page)
		}
		res, _ = s.post("/workshops/WKSHP-Soon/register", form)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("booking at the opening: %d", res.StatusCode)
		}
	})
}

func TestWorkshopDatesAdmin(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 5, "API", "Python")
		s.operator("mod", wod.RoleModerator, "moderator password")
		s.login("mod", "moderator password")
		token := s.csrf("/admin/workshops")

		form := untouchedWorkshopForm(token)
		form.Set("opens", "next week")
		_, page := s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "an unreadable opening time", page, `id="f-opens-error"`, `value="next week"`, "RFC 3339")
		form.Set("opens", "2026-12-10T10:00:00+01:00")
		form.Set("closes", "2026-12-10T18:00:00Z")
		res, page := s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "the flash after setting the dates", s.afterAction(res, page), "Saved WKSHP-A", "opens", "closes")
		w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A")
		if !w.Opens.Equal(time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)) || !w.Closes.Equal(time.Date(2026, 12, 10, 18, 0, 0, 0, time.UTC)) ||
			!slices.Contains(w.Overrides, "opens") || !slices.Contains(w.Overrides, "closes") {
			t.Fatalf("dates saved as %v %v, overrides %v", w.Opens, w.Closes, w.Overrides)
		}
		_, page = s.get("/admin/workshops")
		mustShow(t, "the list's dates", page, `opens <time datetime="2026-12-10T09:00:00Z">`)
		_, page = s.get("/admin/workshops/WKSHP-A")
		mustShow(t, "the form's dates", page, `value="2026-12-10T09:00:00Z"`, `value="2026-12-10T18:00:00Z"`)
		form.Set("opens", "2026-12-10T09:00:00Z")
		form.Set("closes", "")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		s.afterAction(res, page)
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); !w.Closes.IsZero() || w.Opens.IsZero() {
			t.Fatalf("dates after emptying the closing time: %v %v", w.Opens, w.Closes)
		}
	})
}

// An LTI launch books through the same transaction: before the opening it
// is refused with the reason, at the opening it lands on the status page.
func TestWorkshopDatesLTILaunch(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs 101", 1, 3)
		opens := s.clock.Now().Add(time.Hour)
		if _, err := s.db.UpdateWorkshop(s.ctx, "WKSHP-API101", wod.WorkshopUpdate{Opens: &opens}); err != nil {
			t.Fatal(err)
		}
		plat := s.ltiPlatform(false)
		res, page := s.ltiLaunch(plat, nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "opens for registration at "+opens.UTC().Format(time.RFC3339)) {
			t.Fatalf("launch before the opening: %d\n%s", res.StatusCode, page)
		}
		s.clock.Advance(time.Hour)
		if res, page := s.ltiLaunch(plat, nil); res.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(res.Header.Get("Location"), "/status/") {
			t.Fatalf("launch at the opening: %d\n%s", res.StatusCode, page)
		}
	})
}
