package web_test

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/wod-dev/wod"
)

func TestAdminLoginThrottleAndCSRF(t *testing.T) {
	t.Parallel()
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
		// Even the right password waits out the lock, at this address.
		res, _ = s.post("/admin/login", url.Values{"username": {"ops"}, "password": {"correct horse battery"}})
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("locked login accepted: %d", res.StatusCode)
		}
		// The operator at another address is not locked out.
		elsewhere := s.browserFrom("127.0.0.2")
		elsewhere.login("ops", "correct horse battery")

		// Logins from one address at the same moment: one password is
		// checked, the others are told so at once. The operator's hash is
		// a dear one (as production's are), so that the checks overlap
		// however fast the machine: with the tests' cheap hash each could
		// finish before the next began.
		dear, err := argon2id.CreateHash("correct horse battery", &argon2id.Params{Memory: 16 << 10, Iterations: 8,
			Parallelism: 1, SaltLength: 16, KeyLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.db.CreateUser(s.ctx, &wod.User{Username: "dear", Email: "dear@acme.test", Role: wod.RoleAdmin,
			PasswordHash: dear}); err != nil {
			t.Fatal(err)
		}
		flood := s.browserFrom("127.0.0.3")
		var wg sync.WaitGroup
		var mu sync.Mutex
		busy := 0
		start := make(chan struct{})
		for range 10 {
			wg.Go(func() {
				<-start
				res, page := flood.post("/admin/login", url.Values{"username": {"dear"}, "password": {"nope"}})
				mu.Lock()
				defer mu.Unlock()
				// Checks that finish quickly (no -race) may reach the
				// address's failure limit first: that lock is no busy answer.
				if res.StatusCode == http.StatusTooManyRequests && !strings.Contains(page, "Too many failed logins") {
					if !strings.Contains(page, "Too many logins are being checked at this moment") || res.Header.Get("Retry-After") != "1" {
						t.Errorf("busy answer: %v %s", res.Header, page)
					}
					busy++
				}
			})
		}
		close(start)
		wg.Wait()
		if busy == 0 {
			t.Fatal("ten logins at once from one address were all checked")
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

// browserFrom is a new browser whose connections come from ip, a loopback
// address of its own: to the server, another client.
func (s *site) browserFrom(ip string) *site {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	o := *s
	o.client = &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &o
}
