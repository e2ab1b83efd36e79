package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// The status page offers the workshop's extension as a button, the
// reminder's signed link leads to a confirmation that only a POST acts on,
// and a second try is refused with a reason.
func TestStatusPageExtend(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 2)
		r, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Ann", Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		s.ready("Pw-1")
		tok := s.keys.StatusToken(r.ID)
		if _, page := s.get("/status/" + tok); strings.Contains(page, `id="extend"`) {
			t.Fatalf("a workshop without extend offers one:\n%s", page)
		}
		d := wod.Duration(30 * time.Minute)
		if _, err := s.db.UpdateWorkshop(s.ctx, "WKSHP-A", wod.WorkshopUpdate{Extend: &d}); err != nil {
			t.Fatal(err)
		}
		_, frag := s.get("/status/" + tok + "/live")
		if !strings.Contains(frag, `action="/status/`+tok+`/extend"`) || !strings.Contains(frag, "Add 30 min to my session") {
			t.Fatalf("the status page lacks the extend button:\n%s", frag)
		}
		// The mail's link: a confirmation, and a GET changes nothing.
		if !strings.HasSuffix(s.eng.ExtendURL(r.ID), "/status/"+tok+"/extend") {
			t.Fatalf("extend link %s", s.eng.ExtendURL(r.ID))
		}
		code, page := s.get("/status/" + tok + "/extend")
		if code != 200 || !strings.Contains(page, `id="confirm-extend"`) || !strings.Contains(page, `method="post"`) {
			t.Fatalf("confirmation: %d\n%s", code, page)
		}
		before := *mustReg(t, s, r.ID).EndsAt
		if got := mustReg(t, s, r.ID); got.SelfExtended || !got.EndsAt.Equal(before) {
			t.Fatal("a GET extended the session")
		}
		res, _ := s.post("/status/"+tok+"/extend", url.Values{})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("extend: %d", res.StatusCode)
		}
		if got := mustReg(t, s, r.ID); !got.SelfExtended || !got.EndsAt.Equal(before.Add(30*time.Minute)) {
			t.Fatalf("after extend: %+v", got)
		}
		_, page = s.get("/status/" + tok)
		if strings.Contains(page, `id="extend"`) || !strings.Contains(page, `id="extended"`) {
			t.Fatalf("the page still offers the extension:\n%s", page)
		}
		res, page = s.post("/status/"+tok+"/extend", url.Values{})
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, "once") {
			t.Fatalf("second extension: %d\n%s", res.StatusCode, page)
		}
		if got := mustReg(t, s, r.ID); !got.EndsAt.Equal(before.Add(30 * time.Minute)) {
			t.Fatalf("a refused extension moved the end: %v", got.EndsAt)
		}
		if code, _ := s.get("/status/" + tok + ".forged/extend"); code != 404 {
			t.Fatalf("forged link: %d", code)
		}
	})
}

func mustReg(t *testing.T, s *site, id int64) *wod.Registration {
	t.Helper()
	r, err := s.db.FindRegistration(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
