package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

func TestAdminLoginThrottleAndCSRF(t *testing.T) {
	forEach(t, func(t *testing.T, s *site) {
		s.operator("ops", wod.RoleAdmin, "correct horse battery")

		// Anonymous: every admin page leads to the login form.
		res, _ := s.do(http.MethodGet, "/admin/registrations?state=ready", nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login?next=%2Fadmin%2Fregistrations%3Fstate%3Dready" {
			t.Fatalf("anonymous admin page: %d %v", res.StatusCode, res.Header)
		}
		res, page := s.post("/admin/logout", url.Values{})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "log in again") {
			t.Fatalf("anonymous POST: %d", res.StatusCode)
		}

		// Wrong passwords: refused, then throttled.
		res, page = s.post("/admin/login", url.Values{"username": {"ops"}, "password": {"nope"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Wrong user name or password") ||
			!strings.Contains(page, `value="ops"`) {
			t.Fatalf("wrong password: %d %s", res.StatusCode, page)
		}
		throttled := false
		for range 10 {
			res, page = s.post("/admin/login", url.Values{"username": {"ops"}, "password": {"nope"}})
			if res.StatusCode == http.StatusTooManyRequests {
				throttled = true
				break
			}
		}
		if !throttled || !strings.Contains(page, "Too many failed logins") || res.Header.Get("Retry-After") == "" {
			t.Fatalf("no throttling after repeated failures: %d %s", res.StatusCode, page)
		}
		// Even the right password waits out the lock.
		res, _ = s.post("/admin/login", url.Values{"username": {"ops"}, "password": {"correct horse battery"}})
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("locked login accepted: %d", res.StatusCode)
		}
		s.clock.Advance(2 * 60 * 60 * 1e9)

		// The right password, with a redirect kept on the admin pages.
		res, _ = s.post("/admin/login", url.Values{"username": {"ops"}, "password": {"correct horse battery"}, "next": {"https://evil.test/"}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
			t.Fatalf("login: %d %v", res.StatusCode, res.Header)
		}
		token := s.csrf("/admin/nowhere-yet")
		// A POST without the token, or with another session's, is refused.
		res, page = s.post("/admin/logout", url.Values{})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "form has expired") {
			t.Fatalf("POST without CSRF: %d", res.StatusCode)
		}
		res, _ = s.post("/admin/logout", url.Values{"csrf": {s.keys.Sign("csrf", "another-session")}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("POST with a foreign CSRF token: %d", res.StatusCode)
		}
		res, _ = s.post("/admin/logout", url.Values{"csrf": {token}})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
			t.Fatalf("logout: %d %v", res.StatusCode, res.Header)
		}
		if res, _ := s.do(http.MethodGet, "/admin/registrations", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("after logout: %d", res.StatusCode)
		}
	})
}
