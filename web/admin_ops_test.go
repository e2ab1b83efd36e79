package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// afterAction reads the page an admin action redirected to, with its flash.
func (s *site) afterAction(res *http.Response, page string) string {
	s.t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("action: %d, want a redirect:\n%s", res.StatusCode, page)
	}
	code, next := s.get(res.Header.Get("Location"))
	if code != http.StatusOK {
		s.t.Fatalf("after the action, %s: %d", res.Header.Get("Location"), code)
	}
	return next
}

func (s *site) registerFor(slug, name, email, company string) *wod.Registration {
	s.t.Helper()
	r, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: slug, Name: name, Email: email, Company: company})
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *site) findReg(id int64) *wod.Registration {
	s.t.Helper()
	r, err := s.db.FindRegistration(s.ctx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func mustShow(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(page, want) {
			t.Fatalf("%s lacks %q:\n%s", what, want, page)
		}
	}
}

func TestAdminRegistrations(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 5)
		s.workshop("WKSHP-B", "Workshop B", 6, 8)
		ann := s.registerFor("WKSHP-A", "Ann Smith", "ann@example.com", "")
		s.ready("pw-of-ann-1")
		bob := s.registerFor("WKSHP-A", "Bob Jones", "bob@example.com", "Initech")
		cy := s.registerFor("WKSHP-B", "Cy Young", "cy@example.com", "")
		s.operator("mod", wod.RoleModerator, "moderator password")
		s.login("mod", "moderator password")

		code, page := s.get("/admin/registrations")
		if code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		mustShow(t, "the list", page, "ann@example.com", "bob@example.com", "cy@example.com", "1–3 of 3",
			`aria-current="page"`, "student1")
		_, page = s.get("/admin/registrations?q=initech")
		if !strings.Contains(page, "bob@example.com") || strings.Contains(page, "ann@example.com") {
			t.Fatalf("search:\n%s", page)
		}
		_, page = s.get("/admin/registrations?state=ready")
		if !strings.Contains(page, "ann@example.com") || strings.Contains(page, "bob@example.com") {
			t.Fatalf("state filter:\n%s", page)
		}
		_, page = s.get("/admin/registrations?workshop=WKSHP-B")
		if !strings.Contains(page, "cy@example.com") || strings.Contains(page, "ann@example.com") {
			t.Fatalf("workshop filter:\n%s", page)
		}
		_, page = s.get("/admin/registrations?limit=2&q=example")
		mustShow(t, "page 1", page, "1–2 of 3", `href="/admin/registrations?limit=2&amp;offset=2&amp;q=example"`)
		_, page = s.get("/admin/registrations?limit=2&q=example&offset=2")
		mustShow(t, "page 2", page, "3–3 of 3", `href="/admin/registrations?limit=2&amp;q=example"`, "ann@example.com")

		// The detail page: credentials while live (moderators see them in
		// the API too), jobs and mails.
		_, page = s.get(fmt.Sprintf("/admin/registrations/%d", ann.ID))
		mustShow(t, "the detail page", page, "pw-of-ann-1", "http://hub.test/hub/login", "student1", "create",
			"welcome", "credentials", "/admin/mails/", "/status/")

		// Extend from the filtered list, and come back to it.
		before := s.findReg(ann.ID).EndsAt
		token := s.csrf("/admin/registrations")
		back := "/admin/registrations?state=ready"
		res, page := s.post(fmt.Sprintf("/admin/registrations/%d/extend", ann.ID),
			url.Values{"csrf": {token}, "by": {"30m"}, "back": {back}})
		if res.Header.Get("Location") != back {
			t.Fatalf("extend went to %q", res.Header.Get("Location"))
		}
		mustShow(t, "the flash after extend", s.afterAction(res, page), "extended by 30m")
		if after := s.findReg(ann.ID).EndsAt; after == nil || !after.Equal(before.Add(30*time.Minute)) {
			t.Fatalf("ends_at %v, want %v + 30m", after, before)
		}
		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/extend", ann.ID),
			url.Values{"csrf": {token}, "by": {"1h"}, "back": {back}})
		s.afterAction(res, page)
		if after := s.findReg(ann.ID).EndsAt; !after.Equal(before.Add(90 * time.Minute)) {
			t.Fatalf("ends_at %v after +1 h", after)
		}
		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/resend", ann.ID), url.Values{"csrf": {token}, "back": {back}})
		mustShow(t, "the flash after resend", s.afterAction(res, page), "credentials of registration")

		// A refused action says why, on the page it came from; a foreign
		// back link is not followed.
		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/extend", bob.ID),
			url.Values{"csrf": {token}, "by": {"30m"}, "back": {"https://evil.test/admin/"}})
		if want := fmt.Sprintf("/admin/registrations/%d", bob.ID); res.Header.Get("Location") != want {
			t.Fatalf("refusal went to %q", res.Header.Get("Location"))
		}
		mustShow(t, "the refusal", s.afterAction(res, page), "Not done", "only a running session can be extended")
		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/extend", ann.ID),
			url.Values{"csrf": {token}, "by": {"forever"}, "back": {back}})
		mustShow(t, "a bad extension", s.afterAction(res, page), "Not done", "by must be a duration")

		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/end", ann.ID), url.Values{"csrf": {token}, "back": {back}})
		mustShow(t, "the flash after end", s.afterAction(res, page), "is ending")
		if st := s.findReg(ann.ID).State; st != wod.StateEnding {
			t.Fatalf("after end: %s", st)
		}
		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/end", ann.ID), url.Values{"csrf": {token}, "back": {back}})
		mustShow(t, "ending twice", s.afterAction(res, page), "Not done", "only a live registration can be ended")
		_, page = s.get(fmt.Sprintf("/admin/registrations/%d", ann.ID))
		if strings.Contains(page, "pw-of-ann-1") {
			t.Fatal("the password is shown after the session ended")
		}
		// Once cleaned up, the notebooks she left are a download away.
		var j *wod.AgentJob
		var err error
		for range 10 { // the others' creates come first
			if j, err = s.eng.ClaimJob(s.ctx, s.loc.ID, "agent", 0); err != nil || j == nil || j.Kind == wod.JobCleanup {
				break
			}
		}
		if err != nil || j == nil || j.Kind != wod.JobCleanup || j.RegistrationID != ann.ID {
			t.Fatalf("claim cleanup: %+v %v", j, err)
		}
		if err := s.eng.ReportJob(s.ctx, s.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, OK: true,
			Notebooks: []byte("PK zip of ann")}); err != nil {
			t.Fatal(err)
		}
		_, page = s.get(fmt.Sprintf("/admin/registrations/%d", ann.ID))
		if !strings.Contains(page, `id="notebooks" href="/status/`+s.keys.StatusToken(ann.ID)+`/notebooks.zip"`) ||
			!strings.Contains(page, "(13 bytes, zip; kept until") {
			t.Fatalf("the registration page does not offer the notebooks:\n%s", page)
		}

		res, page = s.post(fmt.Sprintf("/admin/registrations/%d/purge", bob.ID), url.Values{"csrf": {token}})
		mustShow(t, "the flash after purge", s.afterAction(res, page), "is being purged")
		if r := s.findReg(bob.ID); r.State != wod.StateFailed || r.EndedAt == nil {
			t.Fatalf("after purge: %s", r.State)
		}
		if code, _ := s.get(fmt.Sprintf("/admin/registrations/%d", cy.ID+100)); code != http.StatusNotFound {
			t.Fatalf("unknown registration: %d", code)
		}
		if res, _ := s.post(fmt.Sprintf("/admin/registrations/%d/explode", cy.ID), url.Values{"csrf": {token}}); res.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown action: %d", res.StatusCode)
		}
		es, _, err := s.db.FindEvents(s.ctx, wod.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range es {
			if e.Actor == "mod" {
				kinds = append(kinds, e.Kind)
			}
		}
		for _, want := range []string{"registration.extend", "registration.resend", "registration.end", "registration.purge"} {
			if !slices.Contains(kinds, want) {
				t.Fatalf("no %s event by the moderator: %v", want, kinds)
			}
		}
	})
}

// untouchedWorkshopForm is what a browser sends back from the edit form of a
// workshop made by site.workshop, untouched: textareas with CRLF, each
// checkbox after its hidden "false".
func untouchedWorkshopForm(token string) url.Values {
	return url.Values{"csrf": {token}, "title": {"Workshop A"}, "description": {"Learn Workshop A hands-on.\r\n"},
		"categories": {"API, Python"}, "duration": {"2h"}, "capacity": {"5"}, "seat_min": {"1"}, "seat_max": {"5"},
		"locations": {"local"}, "active": {"false", "true"}, "beta": {"false"}, "priority": {"0"},
		"presenter": {"Grace Hopper"}, "presenter_role": {""}, "avatar": {""}, "image": {""}, "badge_image": {""},
		"reset": {"false"}, "ldap": {"false"}, "varpass": {"false"}, "compile": {""}, "appliance": {"none"},
		"session_type": {"workshop"}, "replay_id": {"0"}, "replay_link": {""}, "prerequisite": {""},
		"limits": {""}}
}

func TestAdminWorkshops(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 5, "API", "Python")
		s.workshop("WKSHP-B", "Workshop B", 6, 8)
		s.operator("boss", wod.RoleAdmin, "admin password 1")
		s.operator("mod", wod.RoleModerator, "moderator password")

		// Moderators run the day as in the API (PATCH /workshops is theirs)
		// but may not import, which is admin-only there too.
		s.login("mod", "moderator password")
		token := s.csrf("/admin/workshops")
		if res, _ := s.post("/admin/import", url.Values{"csrf": {token}}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("moderator import: %d", res.StatusCode)
		}
		_, page := s.get("/admin/workshops")
		if strings.Contains(page, "Import content") {
			t.Fatal("the import button is offered without content")
		}
		res, page := s.post("/admin/workshops/WKSHP-B/deactivate", url.Values{"csrf": {token}})
		mustShow(t, "the flash after deactivation", s.afterAction(res, page), "WKSHP-B is closed")
		if _, page := s.get("/"); strings.Contains(page, "Workshop B") || !strings.Contains(page, "Workshop A") {
			t.Fatalf("catalogue after deactivation:\n%s", page)
		}
		_, page = s.get("/admin/workshops")
		mustShow(t, "the list", page, "WKSHP-A", "WKSHP-B", "inactive", "5 / 5", "local", "2 h",
			`action="/admin/workshops/WKSHP-B/activate"`, "--content")
		res, page = s.post("/admin/workshops/WKSHP-B/activate", url.Values{"csrf": {token}})
		s.afterAction(res, page)
		if _, page := s.get("/"); !strings.Contains(page, "Workshop B") {
			t.Fatal("an activated workshop is not in the catalogue")
		}

		s.login("boss", "admin password 1")
		token = s.csrf("/admin/workshops/WKSHP-A")
		res, page = s.post("/admin/import", url.Values{"csrf": {token}})
		mustShow(t, "import without content", s.afterAction(res, page), "--content")

		// The untouched form changes nothing.
		res, page = s.post("/admin/workshops/WKSHP-A", untouchedWorkshopForm(token))
		mustShow(t, "an untouched form", s.afterAction(res, page), "Nothing changed")
		w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A")
		if len(w.Overrides) != 0 {
			t.Fatalf("an untouched form made overrides: %v", w.Overrides)
		}

		// Bad input: every field says what is wrong, nothing is saved and
		// what was typed stays.
		form := untouchedWorkshopForm(token)
		form.Set("title", "Typed title")
		form.Set("capacity", "lots")
		form.Set("duration", "forever")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad input: %d", res.StatusCode)
		}
		mustShow(t, "the form with errors", page, `id="f-capacity-error"`, "must be a whole number",
			`id="f-duration-error"`, `value="lots"`, `value="forever"`, `value="Typed title"`, `aria-invalid="true"`)
		form = untouchedWorkshopForm(token)
		form.Set("seat_max", "99")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("seat range beyond the location: %d", res.StatusCode)
		}
		mustShow(t, "the store's refusal", page, `id="f-seat_max-error"`, "goes beyond location", `value="99"`)
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); w.Title != "Workshop A" || w.SeatMax != 5 {
			t.Fatalf("bad input was saved: %+v", w)
		}

		// Locations: a list, each with its own seat range if it says so;
		// an unknown one is refused at the field.
		if err := s.db.CreateLocation(s.ctx, &wod.Location{Name: "hub2", Students: 9}); err != nil {
			t.Fatal(err)
		}
		form = untouchedWorkshopForm(token)
		form.Set("locations", "local, nowhere")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("an unknown location: %d", res.StatusCode)
		}
		mustShow(t, "the unknown location", page, `id="f-locations-error"`, `no location is called &#34;nowhere&#34;`)
		form.Set("locations", "local, hub2:6-9")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "the flash after setting locations", s.afterAction(res, page), "Saved WKSHP-A: locations")
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); !slices.Equal(w.Locations, []string{"local", "hub2:6-9"}) {
			t.Fatalf("locations saved as %v", w.Locations)
		}
		_, page = s.get("/admin/workshops")
		mustShow(t, "the list's locations", page, "local, hub2:6-9")
		form.Set("locations", "local")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		s.afterAction(res, page)

		// Extend: a duration, empty for none, kept as an override.
		form = untouchedWorkshopForm(token)
		form.Set("extend", "a while")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "an unreadable extend", page, `id="f-extend-error"`, `value="a while"`)
		form.Set("extend", "30m")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "the flash after setting extend", s.afterAction(res, page), "Saved WKSHP-A: extend")
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); w.Extend != wod.Duration(30*time.Minute) || !slices.Contains(w.Overrides, "extend") {
			t.Fatalf("extend saved as %v, overrides %v", w.Extend, w.Overrides)
		}
		_, page = s.get("/admin/workshops/WKSHP-A")
		mustShow(t, "the form's extend", page, `value="30m"`)
		form.Set("extend", "")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		s.afterAction(res, page)
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); w.Extend != 0 {
			t.Fatalf("extend after emptying the field: %v", w.Extend)
		}
		res, page = s.post("/admin/workshops/WKSHP-A/clear-overrides", url.Values{"csrf": {token}})
		s.afterAction(res, page)

		// Limits: one field, read and checked as a whole.
		form = untouchedWorkshopForm(token)
		form.Set("limits", "memory 2M, tasks lots")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "unreadable limits", page, `id="f-limits-error"`, "not a whole number", `value="memory 2M, tasks lots"`)
		form.Set("limits", "memory 2M")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("2M of memory: %d", res.StatusCode)
		}
		mustShow(t, "too little memory", page, `id="f-limits-error"`, "memory: 2M is too little")
		form.Set("limits", "memory 3G, cpus 0.5")
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "the flash after setting limits", s.afterAction(res, page), "Saved WKSHP-A: limits")
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); w.Limits != (wod.Limits{Memory: 3 << 30, CPUs: 0.5}) ||
			!slices.Equal(w.Overrides, []string{"limits"}) {
			t.Fatalf("limits saved as %+v, overrides %v", w.Limits, w.Overrides)
		}
		_, page = s.get("/admin/workshops/WKSHP-A")
		mustShow(t, "the limits in the form", page, `value="memory 3G, cpus 0.5"`)
		res, page = s.post("/admin/workshops/WKSHP-A/clear-overrides", url.Values{"csrf": {token}})
		s.afterAction(res, page)

		form = untouchedWorkshopForm(token)
		form.Set("limits", "memory 3G, cpus 0.5")
		form.Set("title", "Workshop A, revised")
		form.Set("duration", "90m")
		form["beta"] = []string{"false", "true"}
		res, page = s.post("/admin/workshops/WKSHP-A", form)
		mustShow(t, "the flash after saving", s.afterAction(res, page), "Saved WKSHP-A")
		w, _ = s.db.FindWorkshop(s.ctx, "WKSHP-A")
		if w.Title != "Workshop A, revised" || w.Duration != wod.Duration(90*time.Minute) || !w.Beta ||
			!slices.Equal(w.Overrides, []string{"beta", "duration", "title"}) {
			t.Fatalf("after saving: %q %v %v %v", w.Title, w.Duration, w.Beta, w.Overrides)
		}
		_, page = s.get("/admin/workshops/WKSHP-A")
		mustShow(t, "the edit page", page, "beta, duration, title", "Let the content win again", "1h30m")
		res, page = s.post("/admin/workshops/WKSHP-A/clear-overrides", url.Values{"csrf": {token}})
		s.afterAction(res, page)
		if w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A"); len(w.Overrides) != 0 || w.Title != "Workshop A, revised" {
			t.Fatalf("after clearing overrides: %v", w.Overrides)
		}
		if code, _ := s.get("/admin/workshops/WKSHP-Nope"); code != http.StatusNotFound {
			t.Fatalf("unknown workshop: %d", code)
		}
		kind := "workshop.update"
		es, _, err := s.db.FindEvents(s.ctx, wod.EventFilter{Kind: &kind})
		if err != nil {
			t.Fatal(err)
		}
		var byBoss []string
		for _, e := range es {
			if e.Actor == "boss" {
				byBoss = append(byBoss, e.Detail)
			}
		}
		if !slices.Contains(byBoss, "title,duration,beta") {
			t.Fatalf("audit of the edit: %v", byBoss)
		}
	})
}

func TestAdminMails(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 5)
		s.registerFor("WKSHP-A", "Ann Smith", "ann@example.com", "")
		s.ready("pw-of-ann-1")
		// A mail whose HTML would run in the operator's session if it were
		// rendered.
		hostile, err := s.db.CreateRegistration(s.ctx, &wod.NewRegistration{
			Request: wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Eve", Email: "eve@example.com"},
			Mails: []*wod.Mail{{Kind: wod.MailWelcome, To: "eve@example.com", Subject: "Hello <Eve>",
				Text: "plain text body", HTML: `<p onclick="steal()">hi</p><script>alert("pwned")</script>`}}})
		if err != nil {
			t.Fatal(err)
		}
		s.operator("mod", wod.RoleModerator, "moderator password")
		s.login("mod", "moderator password")

		code, page := s.get("/admin/mails")
		if code != http.StatusOK {
			t.Fatalf("outbox: %d", code)
		}
		mustShow(t, "the outbox", page, "ann@example.com", "eve@example.com", "Hello &lt;Eve&gt;", "credentials",
			"welcome", `aria-current="page"`)
		_, page = s.get("/admin/mails?kind=credentials")
		if !strings.Contains(page, "ann@example.com") || strings.Contains(page, "eve@example.com") {
			t.Fatalf("kind filter:\n%s", page)
		}
		_, page = s.get(fmt.Sprintf("/admin/mails?registration=%d", hostile.ID))
		if !strings.Contains(page, "eve@example.com") || strings.Contains(page, "ann@example.com") || !strings.Contains(page, "1–1 of 1") {
			t.Fatalf("registration filter:\n%s", page)
		}
		_, page = s.get("/admin/mails?state=sent")
		mustShow(t, "an empty filter", page, "No mail matches")

		ms, _, err := s.db.FindMails(s.ctx, wod.MailFilter{RegistrationID: &hostile.ID})
		if err != nil || len(ms) != 1 {
			t.Fatalf("hostile mail: %v %v", ms, err)
		}
		// With and without the registration in the link.
		for _, path := range []string{fmt.Sprintf("/admin/mails/%d", ms[0].ID),
			fmt.Sprintf("/admin/mails/%d?registration=%d", ms[0].ID, hostile.ID)} {
			code, page = s.get(path)
			if code != http.StatusOK {
				t.Fatalf("%s: %d", path, code)
			}
			mustShow(t, "the mail", page, "plain text body", "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;",
				"eve@example.com")
			if strings.Contains(page, "<script>alert") || strings.Contains(page, `onclick="steal()"`) {
				t.Fatalf("the mail's HTML is rendered:\n%s", page)
			}
		}

		kind := wod.MailCredentials
		cs, _, err := s.db.FindMails(s.ctx, wod.MailFilter{Kind: &kind})
		if err != nil || len(cs) != 1 {
			t.Fatalf("credentials mail: %v %v", cs, err)
		}
		_, page = s.get(fmt.Sprintf("/admin/mails/%d", cs[0].ID))
		mustShow(t, "the credentials mail", page, "{{wod:password}}", "placeholder")
		if strings.Contains(page, "pw-of-ann-1") {
			t.Fatal("the outbox shows a password")
		}
		if code, _ := s.get("/admin/mails/99999"); code != http.StatusNotFound {
			t.Fatalf("unknown mail: %d", code)
		}
	})
}

func TestAdminOperationsNeedCSRF(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 5)
		r := s.registerFor("WKSHP-A", "Ann Smith", "ann@example.com", "")
		s.ready("pw-of-ann-1")
		s.operator("boss", wod.RoleAdmin, "admin password 1")
		s.login("boss", "admin password 1")
		id := fmt.Sprint(r.ID)
		for _, path := range []string{"/admin/import", "/admin/workshops/WKSHP-A",
			"/admin/workshops/WKSHP-A/deactivate", "/admin/workshops/WKSHP-A/activate",
			"/admin/workshops/WKSHP-A/clear-overrides", "/admin/registrations/" + id + "/end",
			"/admin/registrations/" + id + "/extend", "/admin/registrations/" + id + "/resend",
			"/admin/registrations/" + id + "/purge"} {
			res, page := s.post(path, url.Values{"title": {"Changed"}, "by": {"1h"}})
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "form has expired") {
				t.Fatalf("POST %s without CSRF: %d", path, res.StatusCode)
			}
		}
		w, _ := s.db.FindWorkshop(s.ctx, "WKSHP-A")
		if reg := s.findReg(r.ID); w.Title != "Workshop A" || !w.Active || reg.State != wod.StateReady {
			t.Fatalf("a refused POST changed something: %q %v %s", w.Title, w.Active, reg.State)
		}
	})
}
