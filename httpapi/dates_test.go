package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// Operators set a workshop's dates by PATCH (kept as overrides); a
// registration before the opening or from the closing time on is refused
// with the field error an inactive workshop gets, through the API and the
// legacy routes alike; a closed workshop leaves the public catalogue.
func TestWorkshopDatesRoutes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0, withLegacy)
		const path = "/api/v1/workshops/WKSHP-API101"
		opens := clock.Now().Add(time.Hour).UTC()
		r := e.do("PATCH", path, e.mod, map[string]any{"opens": opens.In(time.FixedZone("CET", 3600)).Format(time.RFC3339)})
		if r.status != 200 || r.body["opens"] != opens.Format(time.RFC3339) || r.body["closes"] != nil ||
			!strings.Contains(strings.Join(anyStrings(r.body["overrides"]), " "), "opens") {
			t.Fatalf("patch opens: %d %s", r.status, r.raw)
		}
		for field, bad := range map[string]string{"opens": "tomorrow", "closes": "2026-12-10T09:00:00"} {
			if r := e.do("PATCH", path, e.mod, map[string]any{field: bad}); r.status != 422 ||
				!strings.Contains(string(r.raw), field) || !strings.Contains(string(r.raw), "RFC 3339") {
				t.Fatalf("%s %q: %d %s", field, bad, r.status, r.raw)
			}
		}
		if r := e.do("PATCH", path, e.mod, map[string]any{"closes": opens.Add(-time.Minute).Format(time.RFC3339)}); r.status != 422 ||
			!strings.Contains(string(r.raw), "after opens") {
			t.Fatalf("closing before opening: %d %s", r.status, r.raw)
		}

		// Not open yet: listed (with when it opens), but not bookable.
		if r := e.do("GET", "/api/v1/workshops", "", nil); r.status != 200 || len(r.body["items"].([]any)) != 1 {
			t.Fatalf("catalogue before the opening: %d %s", r.status, r.raw)
		}
		r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann", "ann@example.com"))
		if r.status != 422 || !strings.Contains(string(r.raw), "opens for registration at "+opens.Format(time.RFC3339)) {
			t.Fatalf("registration before the opening: %d %s", r.status, r.raw)
		}
		w := registration("WKSHP-API101", "Ann", "ann@example.com")
		w["wait"] = true
		if r := e.do("POST", "/api/v1/registrations", "", w); r.status != 422 {
			t.Fatalf("waiting before the opening: %d %s", r.status, r.raw)
		}
		if r := e.legacy("POST", "/api/customer", "", frontendRegistration("Ann", "ann@example.com")); r.status != 422 ||
			!strings.Contains(string(r.raw), "opens for registration") {
			t.Fatalf("legacy registration before the opening: %d %s", r.status, r.raw)
		}

		clock.Advance(time.Hour)
		if r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann", "ann@example.com")); r.status != 201 {
			t.Fatalf("registration at the opening: %d %s", r.status, r.raw)
		}
		closes := clock.Now().Add(time.Hour).UTC()
		if r := e.do("PATCH", path, e.mod, map[string]any{"closes": closes.Format(time.RFC3339)}); r.status != 200 ||
			r.body["closes"] != closes.Format(time.RFC3339) {
			t.Fatalf("patch closes: %d %s", r.status, r.raw)
		}
		clock.Advance(time.Hour)
		r = e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Bob", "bob@example.com"))
		if r.status != 422 || !strings.Contains(string(r.raw), "closed for registration at "+closes.Format(time.RFC3339)) {
			t.Fatalf("registration after closing: %d %s", r.status, r.raw)
		}
		if r := e.legacy("POST", "/api/customer", "", frontendRegistration("Bob", "bob@example.com")); r.status != 422 ||
			!strings.Contains(string(r.raw), "closed for registration") {
			t.Fatalf("legacy registration after closing: %d %s", r.status, r.raw)
		}
		// Closed: gone from the public catalogue, still there for operators.
		if r := e.do("GET", "/api/v1/workshops", "", nil); r.status != 200 || len(r.body["items"].([]any)) != 0 {
			t.Fatalf("public catalogue after closing: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", "/api/v1/workshops?all=true", e.mod, nil); r.status != 200 || len(r.body["items"].([]any)) != 1 {
			t.Fatalf("operators' catalogue after closing: %d %s", r.status, r.raw)
		}
		// "" removes a date.
		if r := e.do("PATCH", path, e.mod, map[string]any{"closes": ""}); r.status != 200 || r.body["closes"] != nil {
			t.Fatalf("removing the closing time: %d %s", r.status, r.raw)
		}
		// The OpenAPI document describes both fields.
		doc := e.do("GET", "/api/v1/openapi.json", "", nil)
		for _, want := range []string{`"opens"`, `"closes"`, "closes for registration"} {
			if !strings.Contains(string(doc.raw), want) {
				t.Fatalf("openapi.json lacks %s", want)
			}
		}
	})
}
