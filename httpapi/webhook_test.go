package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestWebhookCRUD: admins add, list, change, pause, resume and remove
// endpoints; the secret is shown at creation and rotation only; bad input
// is refused field by field; deliveries are listed and sent again.
func TestWebhookCRUD(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		types := e.do("GET", "/api/v1/webhooks/event-types", e.admin, nil)
		if types.status != 200 || !strings.Contains(string(types.raw), `"check.failed"`) {
			t.Fatalf("event types: %d %s", types.status, types.raw)
		}
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"url": "ftp://example.com/", "events": []string{"registration.ready"}}, "url"},
			{map[string]any{"url": "not a url", "events": []string{"registration.ready"}}, "url"},
			{map[string]any{"url": "https://example.com/", "events": []string{"registration.teleported"}}, "events"},
			{map[string]any{"url": "https://example.com/", "events": []string{}}, "events"},
		} {
			r := e.do("POST", "/api/v1/webhooks", e.admin, bad.body)
			if r.status != 422 || !strings.Contains(string(r.raw), bad.field) {
				t.Fatalf("%v: %d %s", bad.body, r.status, r.raw)
			}
		}
		if r := e.do("POST", "/api/v1/webhooks", e.mod, map[string]any{"url": "https://example.com/",
			"events": []string{"registration.ready"}}); r.status != 403 {
			t.Fatalf("moderator: %d", r.status)
		}
		r := e.do("POST", "/api/v1/webhooks", e.admin, map[string]any{"url": "https://hooks.example.com/wod",
			"description": "chat", "events": []string{"registration.ready", "job.given_up"}})
		secret, _ := r.body["secret"].(string)
		if r.status != 201 || !strings.HasPrefix(secret, "whsec_") || r.body["url"] != "https://hooks.example.com/wod" {
			t.Fatalf("create: %d %s", r.status, r.raw)
		}
		id := int64(r.body["id"].(float64))
		path := fmt.Sprintf("/api/v1/webhooks/%d", id)
		for _, p := range []string{"/api/v1/webhooks", path} {
			got := e.do("GET", p, e.admin, nil)
			if got.status != 200 || strings.Contains(string(got.raw), secret) || strings.Contains(string(got.raw), "secret") {
				t.Fatalf("GET %s: %d %s (the secret is shown once)", p, got.status, got.raw)
			}
		}
		upd := e.do("PATCH", path, e.admin, map[string]any{"events": []string{"check.failed"}})
		if upd.status != 200 || fmt.Sprint(upd.body["events"]) != "[check.failed]" || upd.body["description"] != "chat" {
			t.Fatalf("patch: %d %s", upd.status, upd.raw)
		}
		if bad := e.do("PATCH", path, e.admin, map[string]any{"url": "javascript:alert(1)"}); bad.status != 422 {
			t.Fatalf("patch with a bad URL: %d %s", bad.status, bad.raw)
		}
		rot := e.do("POST", path+"/rotate-secret", e.admin, nil)
		if s2, _ := rot.body["secret"].(string); rot.status != 200 || !strings.HasPrefix(s2, "whsec_") || s2 == secret {
			t.Fatalf("rotate: %d %s", rot.status, rot.raw)
		}
		if p := e.do("POST", path+"/pause", e.admin, nil); p.status != 200 || p.body["paused_at"] == nil ||
			!strings.Contains(fmt.Sprint(p.body["pause_reason"]), "admin") {
			t.Fatalf("pause: %d %s", p.status, p.raw)
		}
		if p := e.do("POST", path+"/pause", e.admin, nil); p.status != 409 {
			t.Fatalf("second pause: %d", p.status)
		}

		// A check failure is queued for the endpoint; it is listed, and
		// sent again on request.
		if err := db.RecordEvent(context.Background(), &wod.Event{Actor: "check", Kind: wod.EventCheckFailed,
			Subject: "platform", Detail: "disk"}); err != nil {
			t.Fatal(err)
		}
		ds := e.do("GET", path+"/deliveries?state=queued", e.admin, nil)
		items, _ := ds.body["items"].([]any)
		if ds.status != 200 || len(items) != 1 || ds.body["total"] != float64(1) {
			t.Fatalf("deliveries: %d %s", ds.status, ds.raw)
		}
		did := int64(items[0].(map[string]any)["id"].(float64))
		if r := e.do("GET", path+"/deliveries?state=bogus", e.admin, nil); r.status != 422 {
			t.Fatalf("bad state filter: %d", r.status)
		}
		if r := e.do("POST", fmt.Sprintf("%s/deliveries/%d/redeliver", path, did), e.admin, nil); r.status != 200 ||
			r.body["state"] != "queued" {
			t.Fatalf("redeliver: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/redeliver", id+1, did), e.admin, nil); r.status != 404 {
			t.Fatalf("redeliver under another endpoint: %d", r.status)
		}
		if p := e.do("POST", path+"/resume", e.admin, nil); p.status != 200 || p.body["paused_at"] != nil {
			t.Fatalf("resume: %d %s", p.status, p.raw)
		}
		if d := e.do("DELETE", path, e.admin, nil); d.status != 204 {
			t.Fatalf("delete: %d", d.status)
		}
		if d := e.do("GET", path, e.admin, nil); d.status != 404 {
			t.Fatalf("get after delete: %d", d.status)
		}
		evs, _, _ := db.FindEvents(context.Background(), wod.EventFilter{Subject: new(fmt.Sprintf("webhook:%d", id))})
		if len(evs) != 7 { // create, update, rotate, pause, redeliver, resume, delete
			t.Fatalf("audit trail of the webhook: %d events", len(evs))
		}
	})
}
