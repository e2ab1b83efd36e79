package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// Where the tests' learning platform says it is.
const ltiIssuer, ltiClientID = "https://moodle.uni.example", "wod-7"

// ltiPlatform registers a test platform (with a grade book when grades).
func (s *site) ltiPlatform(grades bool) *ltitest.Platform {
	s.t.Helper()
	return s.ltiPlatformAt("moodle", ltiIssuer, grades)
}

// ltiPlatformAt registers a test platform called name with the issuer.
func (s *site) ltiPlatformAt(name, issuer string, grades bool) *ltitest.Platform {
	s.t.Helper()
	plat := ltitest.New(s.t)
	p := &wod.LTIPlatform{Name: name, Issuer: issuer, ClientID: ltiClientID,
		AuthURL: issuer + "/mod/lti/auth.php", JWKSURL: plat.JWKSURL()}
	if grades {
		p.TokenURL = plat.TokenURL()
		plat.TrustTool(ltiClientID, s.url+"/lti/jwks", s.clock.Now)
	}
	if err := s.db.CreateLTIPlatform(s.ctx, p); err != nil {
		s.t.Fatal(err)
	}
	return plat
}

// ltiLaunch launches as the platform's course page does: the login
// initiation, then the cross-site form post of the id_token with the
// claims change makes to a valid launch's.
func (s *site) ltiLaunch(plat *ltitest.Platform, change func(map[string]any)) (*http.Response, string) {
	s.t.Helper()
	return s.ltiLaunchFrom(plat, ltiIssuer, change)
}

// ltiLaunchFrom launches from the platform registered with the issuer.
func (s *site) ltiLaunchFrom(plat *ltitest.Platform, issuer string, change func(map[string]any)) (*http.Response, string) {
	s.t.Helper()
	q := url.Values{"iss": {issuer}, "login_hint": {"42"}, "target_link_uri": {"http://wod.test/lti/launch"}}
	res, page := s.post("/lti/login", q)
	if res.StatusCode != http.StatusFound {
		s.t.Fatalf("login: %d %s", res.StatusCode, page)
	}
	to, _ := url.Parse(res.Header.Get("Location"))
	if "https://"+to.Host != issuer || to.Query().Get("redirect_uri") != "http://wod.test/lti/launch" {
		s.t.Fatalf("login redirect: %s", to)
	}
	c := ltitest.LaunchClaims(issuer, ltiClientID, to.Query().Get("nonce"), s.clock.Now())
	if change != nil {
		change(c)
	}
	req, _ := http.NewRequest("POST", s.url+"/lti/launch", strings.NewReader(url.Values{
		"id_token": {plat.Sign(c)}, "state": {to.Query().Get("state")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", issuer)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return s.send(req)
}

// TestLTILaunch drives a launch as a learning platform does: the login
// initiation from the course, the platform's authorisation (here: the
// test signs the id_token), the cross-site form post of the launch. The
// learner lands registered on their status page; a second launch leads
// back to the same registration.
func TestLTILaunch(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs 101", 1, 3)
		plat := s.ltiPlatform(false)
		launch := func(change func(map[string]any)) (*http.Response, string) { return s.ltiLaunch(plat, change) }

		res, page := launch(nil)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/status/") {
			t.Fatalf("launch: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), page)
		}
		status := res.Header.Get("Location")
		regs, _, err := s.db.FindRegistrations(s.ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 10}})
		if err != nil || len(regs) != 1 || regs[0].Email != "ann@uni.example" || regs[0].Name != "Ann Smith" ||
			regs[0].Company != "Intro to APIs" || regs[0].Workshop != "WKSHP-API101" {
			t.Fatalf("registrations after the launch: %+v %v", regs, err)
		}
		if code, page := s.get(status); code != http.StatusOK || !strings.Contains(page, "APIs 101") {
			t.Fatalf("status page: %d", code)
		}

		// The same learner again: back to the same registration.
		if res, _ := launch(nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != status {
			t.Fatalf("second launch: %d %s, want %s", res.StatusCode, res.Header.Get("Location"), status)
		}

		// A token for another tool is refused, with words for the learner.
		res, page = launch(func(c map[string]any) { c["aud"] = "another-tool" })
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "could not be verified") {
			t.Fatalf("forged launch: %d\n%s", res.StatusCode, page)
		}
		// A workshop that is full.
		for i := range 2 {
			s.registerFor("WKSHP-API101", "Other", "other"+string(rune('a'+i))+"@example.com", "")
		}
		res, page = launch(func(c map[string]any) { c["sub"], c["email"] = "learner-43", "late@uni.example" })
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, "full") {
			t.Fatalf("launch into a full workshop: %d\n%s", res.StatusCode, page)
		}
		// A login from a platform nobody registered.
		if res, page := s.get("/lti/login?iss=https://evil.example&login_hint=1&target_link_uri=x"); res != http.StatusNotFound {
			t.Fatalf("unknown platform: %d %s", res, page)
		}
	})
}

// TestLTIAdminPage: admins register and remove platforms; the page says
// what to enter on the platform's side; moderators are kept out.
func TestLTIAdminPage(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("boss", wod.RoleAdmin, "correct horse battery")
		s.login("boss", "correct horse battery")
		code, page := s.get("/admin/lti")
		if code != http.StatusOK {
			t.Fatalf("page: %d\n%s", code, page)
		}
		noInlineCode(t, "lti", page)
		wantIn(t, "lti", page, `aria-current="page">Learning platforms`, "<code>http://wod.test/lti/login</code>",
			"<code>http://wod.test/lti/launch</code>", "No platform yet.")

		csrf := s.csrf("/admin/lti")
		res, page := s.post("/admin/lti", url.Values{"csrf": {csrf}, "name": {"Bad Name"}, "issuer": {""},
			"client_id": {"c"}, "auth_url": {"ftp://x"}, "jwks_url": {"https://lms.example/jwks"}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad platform: %d", res.StatusCode)
		}
		wantIn(t, "bad platform", page, `id="name" name="name" type="text" value="Bad Name" aria-invalid="true"`,
			`id="issuer-error"`, `id="auth_url-error"`)

		res, _ = s.post("/admin/lti", url.Values{"csrf": {csrf}, "name": {"moodle"}, "issuer": {"https://lms.example"},
			"client_id": {"c-1"}, "deployment_ids": {"1, 2"}, "auth_url": {"https://lms.example/auth"},
			"jwks_url": {"https://lms.example/jwks"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("add platform: %d", res.StatusCode)
		}
		ps, err := s.db.FindLTIPlatforms(s.ctx)
		if err != nil || len(ps) != 1 || len(ps[0].DeploymentIDs) != 2 || ps[0].DeploymentIDs[1] != "2" {
			t.Fatalf("platforms: %+v %v", ps, err)
		}
		_, page = s.get("/admin/lti")
		wantIn(t, "lti with a platform", page, "Platform moodle registered", "<code>c-1</code>", "<code>1</code>, <code>2</code>")

		res, _ = s.post(fmt.Sprintf("/admin/lti/%d/delete", ps[0].ID), url.Values{"csrf": {csrf}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("delete: %d", res.StatusCode)
		}
		if ps, _ := s.db.FindLTIPlatforms(s.ctx); len(ps) != 0 {
			t.Fatalf("platforms after delete: %+v", ps)
		}

		s.operator("mod", wod.RoleModerator, "correct horse battery")
		s.login("mod", "correct horse battery")
		if code, page := s.get("/admin/lti"); code != http.StatusForbidden || strings.Contains(page, "Learning platforms</a>") {
			t.Fatalf("moderator: %d", code)
		}
	})
}

// TestLTIGradePassback: a learner launched from an activity with a grade
// book gets their completion posted there when the session ends, with a
// token the platform hands out against wod's signed request, checked with
// the key wod serves at /lti/jwks.
func TestLTIGradePassback(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs 101", 1, 3)
		plat := s.ltiPlatform(true)
		res, page := s.ltiLaunch(plat, func(c map[string]any) { c[ltitest.GradeClaimName] = plat.GradeClaim() })
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("launch: %d %s", res.StatusCode, page)
		}

		// The session runs and ends; the grade job reports the completion.
		s.ready("s3cret")
		regs, _, _ := s.db.FindRegistrations(s.ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 1}})
		if _, err := s.eng.EndNow(s.ctx, regs[0].ID, "participant"); err != nil {
			t.Fatal(err)
		}
		s.cleaned(70)
		if _, err := s.eng.RunDue(s.ctx); err != nil {
			t.Fatal(err)
		}
		scores := plat.Scores()
		if len(scores) != 1 || scores[0]["userId"] != "learner-42" || scores[0]["scoreGiven"] != 70.0 {
			t.Fatalf("scores: %v", scores)
		}
		grade := wod.JobGrade
		js, _, err := s.db.FindJobs(s.ctx, wod.JobFilter{Kind: &grade, Page: wod.Page{Limit: 5}})
		if err != nil || len(js) != 1 || js[0].State != wod.JobDone {
			t.Fatalf("grade job: %+v %v", js, err)
		}
	})
}

// TestLTIDeepLinking: an instructor adding an activity picks workshops from
// the catalogue inside the platform's frame, and the page posts the signed
// answer back to the platform.
func TestLTIDeepLinking(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs 101", 1, 3)
		s.workshop("WKSHP-Go", "Go <fast>", 4, 6)
		plat := s.ltiPlatform(false)
		const returnURL = "https://moodle.uni.example/mod/lti/contentitem_return.php?course=3"
		res, page := s.ltiLaunch(plat, func(c map[string]any) { ltitest.DeepLinkingClaims(c, returnURL) })
		if res.StatusCode != http.StatusOK {
			t.Fatalf("deep-linking launch: %d\n%s", res.StatusCode, page)
		}
		noInlineCode(t, "picker", page)
		wantIn(t, "picker", page, `action="/lti/deeplink"`, `type="checkbox" name="workshop" value="WKSHP-API101"`,
			"Go &lt;fast&gt;", "Intro to APIs")
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://moodle.uni.example;") ||
			res.Header.Get("X-Frame-Options") != "" {
			t.Fatalf("the picker cannot be framed by the platform: %q", csp)
		}
		token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
		if token == nil {
			t.Fatalf("no token in the picker:\n%s", page)
		}
		res, page = s.post("/lti/deeplink", url.Values{"token": {token[1]}, "workshop": {"WKSHP-API101", "WKSHP-Go"}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("pick: %d\n%s", res.StatusCode, page)
		}
		wantIn(t, "answer", page, `action="https://moodle.uni.example/mod/lti/contentitem_return.php?course=3"`,
			`data-autosubmit`, `name="JWT" value="ey`)
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://moodle.uni.example") {
			t.Fatalf("the answer cannot post to the platform: %q", csp)
		}
		if res, _ := s.post("/lti/deeplink", url.Values{"token": {token[1]}, "workshop": {"WKSHP-API101"}}); res.StatusCode != http.StatusNotFound {
			t.Fatalf("a second answer: %d", res.StatusCode)
		}
		// Ordinary pages still refuse to be framed.
		if res, _ := s.do("GET", "/", nil); res.Header.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("catalogue headers: %v", res.Header)
		}
	})
}

// TestLTILaunchKeepsOthersRegistrations: an e-mail address proves nothing at
// a launch (a learner sets their own at their platform), so a launch returns
// only to the registration the same platform's same learner (sub) made. The
// victim registered on the portal and is running; an attacker launching
// with the victim's address, from the same platform or another, gets
// "already registered" and the lost-link route, never the victim's status
// link or credentials. The attacker's learner id at a second platform
// matching a real learner's id changes nothing.
func TestLTILaunchKeepsOthersRegistrations(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.workshop("WKSHP-API101", "APIs 101", 1, 5)
		moodle := s.ltiPlatform(false)
		const canvasIssuer = "https://canvas.other.example"
		canvas := s.ltiPlatformAt("canvas", canvasIssuer, false)

		res, page := s.post("/workshops/WKSHP-API101/register", url.Values{"name": {"Victim"}, "email": {"victim@corp.example"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the victim's registration: %d\n%s", res.StatusCode, page)
		}
		victimToken := strings.TrimPrefix(res.Header.Get("Location"), "/registered/")
		s.ready("victim-s3cret")
		if code, page := s.get("/status/" + victimToken); code != http.StatusOK || !strings.Contains(page, "victim-s3cret") {
			t.Fatalf("the victim's status page: %d", code)
		}

		// A learner of moodle (learner-42) registers by launch.
		res, page = s.ltiLaunch(moodle, nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("learner-42's launch: %d\n%s", res.StatusCode, page)
		}
		learnerStatus := res.Header.Get("Location")

		refused := func(what string, res *http.Response, page, email string) {
			t.Helper()
			if res.StatusCode != http.StatusConflict || res.Header.Get("Location") != "" {
				t.Fatalf("%s: %d %s, want 409 and no redirect\n%s", what, res.StatusCode, res.Header.Get("Location"), page)
			}
			wantIn(t, what, page, "already has a workshop running", `data-code="already_registered"`,
				`action="/resend-link"`, `name="email" value="`+email+`"`)
			for _, leak := range []string{victimToken, "victim-s3cret", "/status/", strings.TrimPrefix(learnerStatus, "/status/")} {
				if strings.Contains(page, leak) {
					t.Fatalf("%s: the page shows %q\n%s", what, leak, page)
				}
			}
		}
		victimAddress := func(c map[string]any) { c["sub"], c["email"] = "attacker-7", "victim@corp.example" }
		res, page = s.ltiLaunch(moodle, victimAddress)
		refused("another learner with the portal registrant's address", res, page, "victim@corp.example")
		res, page = s.ltiLaunchFrom(canvas, canvasIssuer, victimAddress)
		refused("another platform's learner with the portal registrant's address", res, page, "victim@corp.example")

		// learner-42's address, from another learner of moodle, and from a
		// canvas learner who is also learner-42 there.
		res, page = s.ltiLaunch(moodle, func(c map[string]any) { c["sub"] = "attacker-7" })
		refused("another learner with a launched learner's address", res, page, "ann@uni.example")
		res, page = s.ltiLaunchFrom(canvas, canvasIssuer, nil)
		refused("the same sub at another platform", res, page, "ann@uni.example")

		regs, _, err := s.db.FindRegistrations(s.ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 10}})
		if err != nil || len(regs) != 2 {
			t.Fatalf("registrations after the refused launches: %+v %v", regs, err)
		}

		// learner-42 comes back, even with another address in their profile,
		// to their own registration.
		if res, page := s.ltiLaunch(moodle, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != learnerStatus {
			t.Fatalf("learner-42's second launch: %d %s, want %s\n%s", res.StatusCode, res.Header.Get("Location"), learnerStatus, page)
		}
		res, page = s.ltiLaunch(moodle, func(c map[string]any) { c["email"] = "ann.smith@uni.example" })
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != learnerStatus {
			t.Fatalf("learner-42 with a new address: %d %s, want %s\n%s", res.StatusCode, res.Header.Get("Location"), learnerStatus, page)
		}
	})
}

// TestLTILoginRateLimit: the login initiation takes from the client
// address's registration bucket, so a burst from one address is refused
// with 429 before it fills the database with states.
func TestLTILoginRateLimit(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		s := newSiteRate(t, db, clock, 3)
		s.ltiPlatform(false)
		q := url.Values{"iss": {ltiIssuer}, "login_hint": {"42"}, "target_link_uri": {"http://wod.test/lti/launch"}}
		var found, limited int
		for range 10 {
			res, page := s.post("/lti/login", q)
			switch res.StatusCode {
			case http.StatusFound:
				found++
			case http.StatusTooManyRequests:
				limited++
				if res.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many") {
					t.Fatalf("429 without Retry-After or words: %v\n%s", res.Header, page)
				}
			default:
				t.Fatalf("login: %d\n%s", res.StatusCode, page)
			}
		}
		if found != 3 || limited != 7 {
			t.Fatalf("a burst of 10 logins: %d went through, %d refused; want 3 and 7", found, limited)
		}
		// The bucket refills with time.
		clock.Advance(time.Minute)
		if res, page := s.post("/lti/login", q); res.StatusCode != http.StatusFound {
			t.Fatalf("a login a minute later: %d\n%s", res.StatusCode, page)
		}
	})
}
