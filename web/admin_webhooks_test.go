package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestAdminWebhooks: an admin adds an endpoint (its secret shown once),
// sees its deliveries with the endpoint's last answer, sends one again,
// pauses, resumes, changes, rotates and removes it; bad input is shown
// field by field; moderators are kept out.
func TestAdminWebhooks(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		s := newSite(t, db, clock)
		s.operator("mod", wod.RoleModerator, "moderator-password-1")
		s.operator("root", wod.RoleAdmin, "admin-password-123")
		mod := s.secondBrowser()
		mod.login("mod", "moderator-password-1")
		if code, _ := mod.get("/admin/webhooks"); code != http.StatusForbidden {
			t.Fatalf("moderator: %d", code)
		}
		s.login("root", "admin-password-123")
		code, page := s.get("/admin/webhooks")
		if code != 200 || !strings.Contains(page, "No endpoint yet") || !strings.Contains(page, `value="check.failed"`) ||
			!strings.Contains(page, `href="/admin/webhooks" aria-current="page"`) {
			t.Fatalf("empty page: %d %s", code, page)
		}
		csrf := s.csrf("/admin/webhooks")

		res, page := s.post("/admin/webhooks", url.Values{"csrf": {csrf}, "url": {"ftp://hooks.example.com/"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "URL must start with http:// or https://") ||
			!strings.Contains(page, "Events must name at least one event") || !strings.Contains(page, `value="ftp://hooks.example.com/"`) {
			t.Fatalf("bad form: %d %s", res.StatusCode, page)
		}
		res, page = s.post("/admin/webhooks", url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/wod"},
			"description": {"team chat"}, "events": {"check.failed", "registration.ready"}})
		m := shownSecret.FindStringSubmatch(page)
		if res.StatusCode != http.StatusCreated || m == nil || !strings.HasPrefix(m[1], "whsec_") {
			t.Fatalf("create: %d %s", res.StatusCode, page)
		}
		secret := m[1]
		es, _ := db.FindWebhooks(s.ctx)
		if len(es) != 1 || es[0].Description != "team chat" || len(es[0].Events) != 2 {
			t.Fatalf("endpoints %+v", es)
		}
		id := es[0].ID
		detail := "/admin/webhooks/" + itoa(id)
		if _, page := s.get("/admin/webhooks"); strings.Contains(page, secret) || !strings.Contains(page, "team chat") {
			t.Fatalf("list after create (the secret is shown once): %s", page)
		}

		// A check failure is queued; the endpoint answers 500 with a body
		// the page must escape.
		if err := db.RecordEvent(s.ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "platform"}); err != nil {
			t.Fatal(err)
		}
		as, err := db.ClaimWebhookDeliveries(s.ctx, time.Minute, 5)
		if err != nil || len(as) != 1 {
			t.Fatalf("claim: %v %v", as, err)
		}
		retry := clock.Now().Add(time.Hour)
		if _, err := db.FinishWebhookDelivery(s.ctx, wod.WebhookOutcome{DeliveryID: as[0].Delivery.ID, Attempt: 1,
			State: wod.DeliveryQueued, RetryAt: &retry, Status: 500, Response: "boom <script>", Error: "the endpoint answered 500"}); err != nil {
			t.Fatal(err)
		}
		_, page = s.get(detail)
		if !strings.Contains(page, "<code>check.failed</code>") || !strings.Contains(page, `<strong class="status">500</strong>`) ||
			!strings.Contains(page, "boom &lt;script&gt;") || strings.Contains(page, "boom <script>") ||
			!strings.Contains(page, "failing") || strings.Contains(page, secret) {
			t.Fatalf("detail page: %s", page)
		}
		did := itoa(as[0].Delivery.ID)
		res, _ = s.post(detail+"/deliveries/"+did+"/redeliver", url.Values{"csrf": {csrf}})
		if page := s.followRedirect(res); !strings.Contains(page, "queued to be sent again") {
			t.Fatalf("redeliver: %s", page)
		}
		if d, _ := db.FindWebhookDelivery(s.ctx, as[0].Delivery.ID); d.Attempts != 0 || !d.NextAttemptAt.Equal(clock.Now()) {
			t.Fatalf("redelivered %+v", d)
		}
		res, _ = s.post(detail+"/pause", url.Values{"csrf": {csrf}})
		if page := s.followRedirect(res); !strings.Contains(page, "paused") || !strings.Contains(page, "paused by root") {
			t.Fatalf("pause: %s", page)
		}
		res, _ = s.post(detail+"/resume", url.Values{"csrf": {csrf}})
		if page := s.followRedirect(res); !strings.Contains(page, "Webhook resumed") {
			t.Fatalf("resume: %s", page)
		}
		res, page = s.post(detail, url.Values{"csrf": {csrf}, "url": {"https://"}, "events": {"job.given_up"}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "URL has no host") {
			t.Fatalf("bad change: %d %s", res.StatusCode, page)
		}
		res, _ = s.post(detail, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/v2"}, "events": {"job.given_up"}})
		if page := s.followRedirect(res); !strings.Contains(page, "Webhook saved") || !strings.Contains(page, `value="https://hooks.example.com/v2"`) {
			t.Fatalf("change: %s", page)
		}
		res, page = s.post(detail+"/rotate", url.Values{"csrf": {csrf}})
		if m := shownSecret.FindStringSubmatch(page); res.StatusCode != 200 || m == nil || m[1] == secret {
			t.Fatalf("rotate: %d %s", res.StatusCode, page)
		}
		res, _ = s.post(detail+"/delete", url.Values{"csrf": {csrf}})
		if page := s.followRedirect(res); !strings.Contains(page, "No endpoint yet") {
			t.Fatalf("delete: %s", page)
		}
		if res, _ := s.post("/admin/webhooks/1/pause", url.Values{"csrf": {"forged"}}); res.StatusCode == http.StatusSeeOther {
			t.Fatal("a forged CSRF token was accepted")
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
