package web_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// secondBrowser is a second browser on the same site, with its own cookies.
func (s *site) secondBrowser() *site {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	o := *s
	o.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &o
}

// followRedirect reads the page a post-redirect-get leads to, with its flash.
func (s *site) followRedirect(res *http.Response) string {
	s.t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("want a redirect, got %d", res.StatusCode)
	}
	_, page := s.get(res.Header.Get("Location"))
	return page
}

// apiWithToken calls the API with a token and no cookies.
func (s *site) apiWithToken(token, path string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (s *site) auditEvents(kind string) []*wod.Event {
	s.t.Helper()
	es, _, err := s.db.FindEvents(s.ctx, wod.EventFilter{Kind: &kind})
	if err != nil {
		s.t.Fatal(err)
	}
	return es
}

var shownSecret = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// shownOnce returns the secret a page shows once, checking that it went
// nowhere else in the answer.
func shownOnce(t *testing.T, res *http.Response, page string) string {
	t.Helper()
	m := shownSecret.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no secret on the page (%d): %s", res.StatusCode, page)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("a page with a secret may be cached: %v", res.Header)
	}
	for k, vs := range res.Header {
		for _, v := range vs {
			if strings.Contains(v, m[1]) || strings.Contains(v, url.QueryEscape(m[1])) {
				t.Fatalf("the secret leaked into the %s header", k)
			}
		}
	}
	if strings.Count(page, m[1]) != 1 {
		t.Fatalf("the secret is on the page %d times", strings.Count(page, m[1]))
	}
	return m[1]
}

func TestAdminUsersAreForAdmins(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("mod", wod.RoleModerator, "moderator password")
		s.login("mod", "moderator password")
		// Announcements are a moderator's job; the CSRF token comes from there.
		token := s.csrf("/admin/announcements")
		if code, _ := s.get("/admin/users"); code != http.StatusForbidden {
			t.Fatalf("moderator on /admin/users: %d", code)
		}
		for _, path := range []string{"/admin/users", "/admin/tokens", "/admin/users/1/role", "/admin/users/1/delete",
			"/admin/users/1/password", "/admin/tokens/1/delete"} {
			res, _ := s.post(path, url.Values{"csrf": {token}, "username": {"sneaky"}, "role": {"admin"}, "name": {"x"}})
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("moderator POST %s: %d", path, res.StatusCode)
			}
		}
		if _, err := s.db.FindUserByName(s.ctx, "sneaky"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("a moderator added a user: %v", err)
		}
		if ts, _ := s.db.FindTokens(s.ctx); len(ts) != 0 {
			t.Fatalf("a moderator created a token: %+v", ts)
		}
	})
}

func TestAdminAddsUserWithGeneratedPassword(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("root", wod.RoleAdmin, "root password here")
		s.login("root", "root password here")
		token := s.csrf("/admin/users")

		// Mistakes come back next to their fields, typed values kept, the
		// password never echoed.
		res, page := s.post("/admin/users", url.Values{"csrf": {token}, "username": {"bad name"}, "email": {"ann@nowhere"},
			"role": {"admin"}, "password": {"short-pw"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="bad name"`) ||
			!strings.Contains(page, `value="ann@nowhere"`) || !strings.Contains(page, `id="username-error"`) ||
			!strings.Contains(page, `id="email-error"`) || !strings.Contains(page, "Password must be at least 12 characters") ||
			!strings.Contains(page, `<option value="admin" selected>`) || strings.Contains(page, "short-pw") {
			t.Fatalf("invalid user: %d %s", res.StatusCode, page)
		}

		// Without a password one is generated and shown once.
		res, page = s.post("/admin/users", url.Values{"csrf": {token}, "username": {"ann"}, "email": {"ann@acme.test"},
			"role": {"moderator"}, "password": {""}})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("add user: %d %s", res.StatusCode, page)
		}
		pw := shownOnce(t, res, page)
		if len(pw) < wod.MinPasswordLength || !strings.Contains(page, "ann@acme.test") {
			t.Fatalf("generated password %q, page %s", pw, page)
		}
		if es := s.auditEvents("user.create"); len(es) != 1 || es[0].Actor != "root" || es[0].Subject != "user:ann" {
			t.Fatalf("audit: %+v", es)
		}
		// The list no longer shows it.
		if _, page := s.get("/admin/users"); strings.Contains(page, pw) || !strings.Contains(page, "ann@acme.test") {
			t.Fatalf("users page after: %s", page)
		}
		// The same name again is a conflict on the field.
		res, page = s.post("/admin/users", url.Values{"csrf": {token}, "username": {"ann"}, "role": {"admin"}})
		if res.StatusCode != http.StatusConflict || !strings.Contains(page, `id="username-error"`) {
			t.Fatalf("duplicate user: %d %s", res.StatusCode, page)
		}

		// Ann logs in with it.
		ann := s.secondBrowser()
		ann.login("ann", pw)
		if code, page := ann.get("/admin/announcements"); code != http.StatusOK || !strings.Contains(page, "ann (moderator)") {
			t.Fatalf("ann's admin page: %d", code)
		}

		// A chosen password works as typed.
		res, _ = s.post("/admin/users", url.Values{"csrf": {token}, "username": {"bob"}, "role": {"admin"}, "password": {"bob's own password"}})
		if page := s.followRedirect(res); !strings.Contains(page, "User bob added as admin.") || strings.Contains(page, "bob&#39;s own password") {
			t.Fatalf("add bob: %s", page)
		}
		s.secondBrowser().login("bob", "bob's own password")

		// A reset shows a new password once and ends Ann's session.
		u, _ := s.db.FindUserByName(s.ctx, "ann")
		res, page = s.post(fmt.Sprintf("/admin/users/%d/password", u.ID), url.Values{"csrf": {token}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("reset: %d %s", res.StatusCode, page)
		}
		pw2 := shownOnce(t, res, page)
		if pw2 == pw {
			t.Fatal("the reset kept the password")
		}
		if res, _ := ann.do(http.MethodGet, "/admin/announcements", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("ann's session survived the reset: %d", res.StatusCode)
		}
		if res, _ := ann.post("/admin/login", url.Values{"username": {"ann"}, "password": {pw}}); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("old password after reset: %d", res.StatusCode)
		}
		ann.login("ann", pw2)

		// Disabled, Ann cannot log in; enabled, she can.
		res, _ = s.post(fmt.Sprintf("/admin/users/%d/disable", u.ID), url.Values{"csrf": {token}})
		if page := s.followRedirect(res); !strings.Contains(page, "ann is disabled") || !strings.Contains(page, `class="tag off">disabled`) {
			t.Fatalf("disable: %s", page)
		}
		if res, _ := s.secondBrowser().post("/admin/login", url.Values{"username": {"ann"}, "password": {pw2}}); res.StatusCode == http.StatusSeeOther {
			t.Fatal("a disabled user logged in")
		}
		if res, _ := ann.do(http.MethodGet, "/admin/announcements", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("ann's session survived being disabled: %d", res.StatusCode)
		}
		res, _ = s.post(fmt.Sprintf("/admin/users/%d/enable", u.ID), url.Values{"csrf": {token}})
		s.followRedirect(res)
		ann.login("ann", pw2)

		// Promoted, Ann sees the users page; removed, she is gone.
		res, _ = s.post(fmt.Sprintf("/admin/users/%d/role", u.ID), url.Values{"csrf": {token}, "role": {"admin"}})
		s.followRedirect(res)
		if code, _ := ann.get("/admin/users"); code != http.StatusOK {
			t.Fatalf("promoted ann on /admin/users: %d", code)
		}
		res, _ = s.post(fmt.Sprintf("/admin/users/%d/delete", u.ID), url.Values{"csrf": {token}})
		if page := s.followRedirect(res); !strings.Contains(page, "User ann removed.") || strings.Contains(page, "ann@acme.test") {
			t.Fatalf("delete: %s", page)
		}
		if _, err := s.db.FindUserByName(s.ctx, "ann"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("ann still there: %v", err)
		}
		if es := s.auditEvents("user.update"); len(es) != 4 {
			t.Fatalf("user.update events: %d", len(es))
		}
		if es := s.auditEvents("user.delete"); len(es) != 1 || es[0].Subject != "user:ann" {
			t.Fatalf("user.delete events: %+v", es)
		}
	})
}

func TestAdminTokens(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("root", wod.RoleAdmin, "root password here")
		s.login("root", "root password here")
		token := s.csrf("/admin/users")

		res, page := s.post("/admin/tokens", url.Values{"csrf": {token}, "name": {"CI robot"}, "role": {"boss"}, "expires_days": {"0"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `value="CI robot"`) ||
			!strings.Contains(page, `id="token-role-error"`) || !strings.Contains(page, `id="token-expiry-error"`) {
			t.Fatalf("invalid token: %d %s", res.StatusCode, page)
		}

		res, page = s.post("/admin/tokens", url.Values{"csrf": {token}, "name": {"CI robot"}, "role": {"moderator"}})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create token: %d %s", res.StatusCode, page)
		}
		secret := shownOnce(t, res, page)
		ts, err := s.db.FindTokens(s.ctx)
		if err != nil || len(ts) != 1 || ts[0].Name != "CI robot" || ts[0].CreatedBy != "root" || ts[0].ExpiresAt != nil ||
			!strings.HasPrefix(secret, ts[0].Prefix) || !strings.Contains(page, ts[0].Prefix+"…") {
			t.Fatalf("tokens: %+v %v", ts, err)
		}
		if code := s.apiWithToken(secret, "/api/v1/registrations"); code != http.StatusOK {
			t.Fatalf("the new token on the API: %d", code)
		}
		if _, page := s.get("/admin/users"); strings.Contains(page, secret) {
			t.Fatal("the list shows the secret")
		}

		res, _ = s.post(fmt.Sprintf("/admin/tokens/%d/delete", ts[0].ID), url.Values{"csrf": {token}})
		if page := s.followRedirect(res); !strings.Contains(page, "Token revoked") || strings.Contains(page, "CI robot") {
			t.Fatalf("revoke: %s", page)
		}
		if code := s.apiWithToken(secret, "/api/v1/registrations"); code != http.StatusUnauthorized {
			t.Fatalf("a revoked token on the API: %d", code)
		}
		if len(s.auditEvents("token.create")) != 1 || len(s.auditEvents("token.delete")) != 1 {
			t.Fatal("token events missing")
		}

		// A token with an expiry stops at it.
		res, page = s.post("/admin/tokens", url.Values{"csrf": {token}, "name": {"one day"}, "role": {"admin"}, "expires_days": {"1"}})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create expiring token: %d %s", res.StatusCode, page)
		}
		secret = shownOnce(t, res, page)
		if code := s.apiWithToken(secret, "/api/v1/registrations"); code != http.StatusOK {
			t.Fatalf("expiring token: %d", code)
		}
		s.clock.Advance(25 * time.Hour)
		if code := s.apiWithToken(secret, "/api/v1/registrations"); code != http.StatusUnauthorized {
			t.Fatalf("expired token: %d", code)
		}
		s.login("root", "root password here")
		if _, page := s.get("/admin/users"); !strings.Contains(page, `class="tag off">expired`) {
			t.Fatalf("expired token not marked: %s", page)
		}
		// An unknown token says so.
		res, _ = s.post("/admin/tokens/999999/delete", url.Values{"csrf": {s.csrf("/admin/users")}})
		if page := s.followRedirect(res); !strings.Contains(page, "Not done: token 999999 not found") {
			t.Fatalf("unknown token: %s", page)
		}
	})
}

func TestAdminKeepsTheLastAdmin(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		root := s.operator("root", wod.RoleAdmin, "root password here")
		s.login("root", "root password here")
		token := s.csrf("/admin/users")

		if _, page := s.get("/admin/users"); !strings.Contains(page, "last enabled admin") ||
			strings.Contains(page, fmt.Sprintf(`action="/admin/users/%d/delete"`, root.ID)) {
			t.Fatalf("the last admin's row offers its removal: %s", page)
		}
		refused := []struct{ path, role, want string }{
			{"role", "moderator", "last enabled admin"},
			{"disable", "", "cannot disable yourself"},
			{"delete", "", "cannot remove yourself"},
		}
		for _, c := range refused {
			res, _ := s.post(fmt.Sprintf("/admin/users/%d/%s", root.ID, c.path), url.Values{"csrf": {token}, "role": {c.role}})
			if page := s.followRedirect(res); !strings.Contains(page, "Not done: ") || !strings.Contains(page, c.want) {
				t.Fatalf("%s of the last admin: %s", c.path, page)
			}
		}
		if u, _ := s.db.FindUser(s.ctx, root.ID); u.Role != wod.RoleAdmin || u.Disabled {
			t.Fatalf("the last admin changed: %+v", u)
		}

		// With a second admin, the first may step down; the second is then
		// the last, and the store keeps them even from a direct POST.
		boss := s.operator("boss", wod.RoleAdmin, "boss password here")
		res, _ := s.post(fmt.Sprintf("/admin/users/%d/role", root.ID), url.Values{"csrf": {token}, "role": {"moderator"}})
		s.followRedirect(res)
		if code, _ := s.get("/admin/users"); code != http.StatusForbidden {
			t.Fatalf("a demoted admin on /admin/users: %d", code)
		}
		b := s.secondBrowser()
		b.login("boss", "boss password here")
		btoken := b.csrf("/admin/users")
		res, _ = b.post(fmt.Sprintf("/admin/users/%d/role", boss.ID), url.Values{"csrf": {btoken}, "role": {"moderator"}})
		if page := b.followRedirect(res); !strings.Contains(page, "last enabled admin") {
			t.Fatalf("the last admin demoted itself: %s", page)
		}
		if u, _ := s.db.FindUser(s.ctx, boss.ID); u.Role != wod.RoleAdmin {
			t.Fatalf("boss: %+v", u)
		}
		// Removing another admin is fine while one stays.
		res, _ = b.post(fmt.Sprintf("/admin/users/%d/delete", root.ID), url.Values{"csrf": {btoken}})
		if page := b.followRedirect(res); !strings.Contains(page, "User root removed.") {
			t.Fatalf("remove root: %s", page)
		}
	})
}

func TestAdminAnnouncements(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		s.operator("mod", wod.RoleModerator, "moderator password")
		s.login("mod", "moderator password")
		token := s.csrf("/admin/announcements")
		now := s.clock.Now().Truncate(time.Minute)
		local := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04") }

		res, page := s.post("/admin/announcements", url.Values{"csrf": {token}, "message": {"  "}, "level": {"warning"},
			"starts_at": {local(2 * time.Hour)}, "ends_at": {local(time.Hour)}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="message-error"`) ||
			!strings.Contains(page, `id="ends_at-error"`) || !strings.Contains(page, `value="`+local(2*time.Hour)+`"`) ||
			!strings.Contains(page, `value="warning" checked`) {
			t.Fatalf("invalid announcement: %d %s", res.StatusCode, page)
		}
		res, page = s.post("/admin/announcements", url.Values{"csrf": {token}, "message": {"Soon"}, "starts_at": {"tomorrow"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Start is not a date and time") ||
			!strings.Contains(page, `value="tomorrow"`) {
			t.Fatalf("bad date: %d %s", res.StatusCode, page)
		}

		// Current, until its end.
		res, _ = s.post("/admin/announcements", url.Values{"csrf": {token}, "message": {"Hub maintenance at noon"},
			"level": {"warning"}, "ends_at": {local(3 * time.Hour)}})
		if page := s.followRedirect(res); !strings.Contains(page, "Announcement posted") {
			t.Fatalf("post: %s", page)
		}
		// Scheduled, from its start.
		res, _ = s.post("/admin/announcements", url.Values{"csrf": {token}, "message": {"Lunch break workshops open"},
			"level": {"info"}, "starts_at": {local(time.Hour)}})
		if page := s.followRedirect(res); !strings.Contains(page, "Announcement scheduled") {
			t.Fatalf("schedule: %s", page)
		}
		// Until removed.
		res, _ = s.post("/admin/announcements", url.Values{"csrf": {token}, "message": {"Wi-Fi password is on the wall"}})
		s.followRedirect(res)

		visitor := s.secondBrowser()
		_, page = visitor.get("/")
		if !strings.Contains(page, `<div class="banner warning" role="status">Hub maintenance at noon</div>`) ||
			!strings.Contains(page, "Wi-Fi password is on the wall") || strings.Contains(page, "Lunch break") {
			t.Fatalf("catalogue banners: %s", page)
		}

		as, _ := s.db.FindAnnouncements(s.ctx, nil)
		var wifi int64
		for _, a := range as {
			if strings.HasPrefix(a.Message, "Wi-Fi") {
				wifi = a.ID
			}
		}
		res, _ = s.post(fmt.Sprintf("/admin/announcements/%d/delete", wifi), url.Values{"csrf": {token}})
		if page := s.followRedirect(res); !strings.Contains(page, "Announcement removed.") {
			t.Fatalf("remove: %s", page)
		}
		if _, page = visitor.get("/"); strings.Contains(page, "Wi-Fi") {
			t.Fatal("a removed announcement still shows")
		}

		s.clock.Advance(90 * time.Minute)
		if _, page = visitor.get("/"); !strings.Contains(page, "Lunch break workshops open") || !strings.Contains(page, "Hub maintenance") {
			t.Fatalf("after the start: %s", page)
		}
		s.clock.Advance(2 * time.Hour)
		if _, page = visitor.get("/"); strings.Contains(page, "Hub maintenance") || !strings.Contains(page, "Lunch break") {
			t.Fatalf("after the end: %s", page)
		}
		_, page = s.get("/admin/announcements")
		ended := page[strings.Index(page, `id="ended"`):]
		if !strings.Contains(ended, "Hub maintenance") || !strings.Contains(page, "UTC") {
			t.Fatalf("admin list after the end: %s", page)
		}
		if len(s.auditEvents("announcement.create")) != 3 || len(s.auditEvents("announcement.delete")) != 1 {
			t.Fatal("announcement events missing")
		}
	})
}

func TestAdminPeopleFormsNeedCSRF(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		root := s.operator("root", wod.RoleAdmin, "root password here")
		s.login("root", "root password here")
		s.csrf("/admin/users")
		for _, path := range []string{"/admin/users", fmt.Sprintf("/admin/users/%d/password", root.ID),
			fmt.Sprintf("/admin/users/%d/role", root.ID), "/admin/tokens", "/admin/announcements"} {
			res, page := s.post(path, url.Values{"username": {"eve"}, "role": {"admin"}, "name": {"eve"}, "message": {"pwned"}})
			if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "form has expired") {
				t.Fatalf("POST %s without CSRF: %d", path, res.StatusCode)
			}
		}
		if _, err := s.db.FindUserByName(s.ctx, "eve"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("eve was added: %v", err)
		}
		if ts, _ := s.db.FindTokens(s.ctx); len(ts) != 0 {
			t.Fatal("a token was created")
		}
		if as, _ := s.db.FindAnnouncements(s.ctx, nil); len(as) != 0 {
			t.Fatal("an announcement was posted")
		}
		s.login("root", "root password here")
	})
}
