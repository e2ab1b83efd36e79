package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

func TestCatalogue(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs <101>", 1, 3, "API")
		s.workshop("WKSHP-Full", "Full house", 4, 4, "Python")
		hidden := s.workshop("WKSHP-Hidden", "Withdrawn", 5, 6)
		active := false
		if _, err := s.db.UpdateWorkshop(s.ctx, hidden.Slug, wod.WorkshopUpdate{Active: &active}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: "WKSHP-Full", Name: "Bo", Email: "bo@example.com"}); err != nil {
			t.Fatal(err)
		}
		code, page := s.get("/")
		for _, want := range []string{"APIs &lt;101&gt;", "3 seats left", "Full house", `aria-disabled="true"`,
			"Conference day: all workshops are open", "/assets/brand.css", "help@acme.test", "2 h", "with Grace Hopper",
			`href="/?category=API"`} {
			if !strings.Contains(page, want) {
				t.Fatalf("catalogue (%d) lacks %q:\n%s", code, want, page)
			}
		}
		if strings.Contains(page, "Withdrawn") {
			t.Fatal("an inactive workshop is in the catalogue")
		}
		_, page = s.get("/?category=Python")
		if strings.Contains(page, "APIs &lt;101&gt;") || !strings.Contains(page, "Full house") {
			t.Fatalf("category filter:\n%s", page)
		}
		if code, _ := s.get("/workshops/WKSHP-Hidden"); code != http.StatusNotFound {
			t.Fatalf("inactive workshop page: %d", code)
		}
		if code, _ := s.get("/workshops/nope"); code != http.StatusNotFound {
			t.Fatalf("unknown workshop page: %d", code)
		}
		res, css := s.do(http.MethodGet, "/assets/brand.css", nil)
		if res.StatusCode != 200 || !strings.Contains(css, "--brand:#123456") {
			t.Fatalf("brand.css: %d %s", res.StatusCode, css)
		}
		if code, js := s.get("/assets/wod.js"); code != 200 || !strings.Contains(js, "data-live") {
			t.Fatalf("wod.js: %d", code)
		}
	})
}

func TestRegistrationForm(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 1)
		s.workshop("WKSHP-B", "Workshop B", 2, 3)
		form := func(name, email string) url.Values {
			return url.Values{"name": {name}, "email": {email}, "company": {"Acme"}}
		}

		// Bad input: the form again, with what was typed and why.
		res, page := s.post("/workshops/WKSHP-A/register", form("", "not-an-address"))
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="email-error"`) ||
			!strings.Contains(page, "not a valid e-mail address") || !strings.Contains(page, `id="name-error"`) ||
			!strings.Contains(page, `value="not-an-address"`) || !strings.Contains(page, `aria-invalid="true"`) {
			t.Fatalf("bad form: %d\n%s", res.StatusCode, page)
		}
		res, page = s.post("/workshops/WKSHP-A/register", form("Ann", "ann@spam.test"))
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="email-error"`) {
			t.Fatalf("deny-listed domain: %d\n%s", res.StatusCode, page)
		}

		// Success: the confirmation, then the status page.
		res, _ = s.post("/workshops/WKSHP-A/register", form("Ann Smith", "Ann@Example.com"))
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/registered/") {
			t.Fatalf("register: %d %v", res.StatusCode, res.Header)
		}
		code, page := s.get(res.Header.Get("Location"))
		if code != 200 || !strings.Contains(page, "You are registered, Ann Smith") || !strings.Contains(page, "ann@example.com") ||
			!strings.Contains(page, `href="/status/`) {
			t.Fatalf("confirmation: %d\n%s", code, page)
		}

		// The same address again: "already registered", with the way to
		// have the link sent again, and not when the session ends (anyone
		// may type the address).
		res, page = s.post("/workshops/WKSHP-B/register", form("Ann", "ann@example.com"))
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, `data-code="already_registered"`) ||
			!strings.Contains(page, "already registered") || strings.Contains(page, "full") ||
			!strings.Contains(page, `action="/resend-link"`) || !strings.Contains(page, "Send my link again") {
			t.Fatalf("already registered: %d\n%s", res.StatusCode, page)
		}
		if strings.Contains(page, "until") || strings.Contains(page, "UTC") {
			t.Fatalf("the page tells a stranger when the session ends:\n%s", page)
		}
		// Someone else on the one-seat workshop: "full", not "already registered".
		res, page = s.post("/workshops/WKSHP-A/register", form("Cy", "cy@example.com"))
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, `data-code="full"`) ||
			!strings.Contains(page, "full right now") || strings.Contains(page, "already registered") {
			t.Fatalf("full: %d\n%s", res.StatusCode, page)
		}
		if code, page := s.get("/registered/forged.token"); code != http.StatusNotFound || !strings.Contains(page, "not valid") {
			t.Fatalf("forged confirmation link: %d", code)
		}
	})
}

func TestStatusPageLifeAndEndNow(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop <A>", 1, 5)
		r, err := s.eng.Register(s.ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Ann", Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		tok := s.keys.StatusToken(r.ID)
		code, page := s.get("/status/" + tok)
		if code != 200 || !strings.Contains(page, `data-state="pending"`) || !strings.Contains(page, "Workshop &lt;A&gt;") ||
			!strings.Contains(page, `data-live="/status/`+tok+`/live"`) {
			t.Fatalf("pending page: %d %s", code, page)
		}
		s.ready("Pw-On-Page-7")
		// The live fragment is what the page's script swaps in.
		code, frag := s.get("/status/" + tok + "/live")
		if code != 200 || strings.Contains(frag, "<html") || !strings.Contains(frag, "Pw-On-Page-7") ||
			!strings.Contains(frag, "student1") || !strings.Contains(frag, "data-countdown") ||
			!strings.Contains(frag, "http://hub.test/hub/login?next=%2Fhub%2Fuser%2Fstudent1%2F") {
			t.Fatalf("ready fragment: %d %s", code, frag)
		}
		res, _ := s.do(http.MethodGet, "/status/"+tok, nil)
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("status headers: %v", res.Header)
		}
		if code, _ := s.get("/status/" + r.Username + ".forged"); code != 404 {
			t.Fatalf("forged link: %d", code)
		}
		// The link in the mail shows a confirmation; only the POST ends.
		if code, page := s.get("/status/" + tok + "/end"); code != 200 || !strings.Contains(page, `method="post"`) {
			t.Fatalf("confirmation: %d %s", code, page)
		}
		if got, _ := s.db.FindRegistration(s.ctx, r.ID); got.State != wod.StateReady {
			t.Fatalf("a GET ended the session: %s", got.State)
		}
		res, _ = s.post("/status/"+tok+"/end", url.Values{})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("end: %d", res.StatusCode)
		}
		if got, _ := s.db.FindRegistration(s.ctx, r.ID); got.State != wod.StateEnding {
			t.Fatalf("after end: %s", got.State)
		}
		_, page = s.get("/status/" + tok)
		if strings.Contains(page, "Pw-On-Page-7") || strings.Contains(page, "End my session") || !strings.Contains(page, `data-state="ending"`) {
			t.Fatalf("ending page still shows credentials or the end button: %s", page)
		}
		// Cleanup measured 40 %: the page shows it, and the badge progress.
		j, err := s.eng.ClaimJob(s.ctx, s.loc.ID, "agent", 0)
		if err != nil || j == nil || j.Kind != wod.JobCleanup {
			t.Fatalf("claim cleanup: %+v %v", j, err)
		}
		c := 40
		zip := []byte("PK\x03\x04 the participant's notebooks")
		if err := s.eng.ReportJob(s.ctx, s.loc.ID, j.ID, "agent", wod.AgentResult{Attempt: j.Attempt, OK: true, Completion: &c,
			Notebooks: zip}); err != nil {
			t.Fatal(err)
		}
		_, frag = s.get("/status/" + tok + "/live")
		if !strings.Contains(frag, "data-final") || !strings.Contains(frag, "<strong>40 %</strong>") ||
			!strings.Contains(frag, "finish 3 to earn the Apprentice badge") ||
			!strings.Contains(frag, `href="/status/`+tok+`/notebooks.zip"`) {
			t.Fatalf("done fragment: %s", frag)
		}
		// The notebooks download, while they are kept.
		res, body := s.do(http.MethodGet, "/status/"+tok+"/notebooks.zip", nil)
		if res.StatusCode != 200 || body != string(zip) || res.Header.Get("Content-Type") != "application/zip" ||
			res.Header.Get("Content-Disposition") != `attachment; filename="WKSHP-A-notebooks.zip"` {
			t.Fatalf("download: %d %v %q", res.StatusCode, res.Header, body)
		}
		if code, _ := s.get("/status/" + r.Username + ".forged/notebooks.zip"); code != 404 {
			t.Fatalf("forged download link: %d", code)
		}
		s.clock.Advance(25 * time.Hour)
		if code, page := s.get("/status/" + tok + "/notebooks.zip"); code != 404 || !strings.Contains(page, "no longer kept") {
			t.Fatalf("download after its time: %d", code)
		}
		if _, frag = s.get("/status/" + tok + "/live"); strings.Contains(frag, "notebooks.zip") {
			t.Fatalf("the page offers a download that is over: %s", frag)
		}
	})
}

func TestResendLinkPage(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-A", "Workshop A", 1, 2)
		form := url.Values{"name": {"Ann"}, "email": {"ann@example.com"}}
		if res, _ := s.post("/workshops/WKSHP-A/register", form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("register: %d", res.StatusCode)
		}
		// Registering again offers to send the link again.
		res, page := s.post("/workshops/WKSHP-A/register", form)
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, `action="/resend-link"`) ||
			!strings.Contains(page, `name="email" value="ann@example.com"`) {
			t.Fatalf("already registered without the resend offer: %d\n%s", res.StatusCode, page)
		}
		if code, page := s.get("/resend-link?email=ann@example.com"); code != 200 || !strings.Contains(page, `value="ann@example.com"`) {
			t.Fatalf("resend form: %d", code)
		}
		// Known and unknown addresses get the same answer.
		_, known := s.post("/resend-link", url.Values{"email": {"ann@example.com"}})
		_, unknown := s.post("/resend-link", url.Values{"email": {"zed@example.com"}})
		if !strings.Contains(known, `id="resent"`) || !strings.Contains(unknown, `id="resent"`) ||
			strings.ReplaceAll(known, "ann@example.com", "X") != strings.ReplaceAll(unknown, "zed@example.com", "X") {
			t.Fatalf("the answers differ:\n%s\n---\n%s", known, unknown)
		}
		res, page = s.post("/resend-link", url.Values{"email": {"nope"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="problem"`) {
			t.Fatalf("bad address: %d", res.StatusCode)
		}
		// The welcome mail went out once at registration: the resend waits
		// ten minutes, then requeues it.
		kind := wod.MailWelcome
		ms, _, err := s.db.FindMails(s.ctx, wod.MailFilter{Kind: &kind})
		if err != nil || len(ms) != 1 || ms[0].State != wod.MailQueued {
			t.Fatalf("welcome mail: %+v %v", ms, err)
		}
	})
}
