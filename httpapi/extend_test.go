package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// Operators set a workshop's extend by PATCH (kept as an override); the
// participant sees it offered in their status and uses it once through
// their signed link.
func TestExtendRoutes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		r := e.do("PATCH", "/api/v1/workshops/WKSHP-API101", e.mod, map[string]any{"extend": "30m"})
		if r.status != 200 || r.body["extend"] != "30m" || !strings.Contains(strings.Join(anyStrings(r.body["overrides"]), " "), "extend") {
			t.Fatalf("patch extend: %d %s", r.status, r.raw)
		}
		for _, bad := range []string{"soon", "48h"} {
			if r := e.do("PATCH", "/api/v1/workshops/WKSHP-API101", e.mod, map[string]any{"extend": bad}); r.status != 422 ||
				!strings.Contains(string(r.raw), "extend") {
				t.Fatalf("extend %q: %d %s", bad, r.status, r.raw)
			}
		}

		reg := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Ann", "ann@example.com"))
		status := "/api/v1/status/" + strings.TrimPrefix(reg.body["status_url"].(string), "http://wod.test/status/")
		if v := e.do("POST", status+"/extend", "", nil); v.status != 409 {
			t.Fatalf("extend before the session runs: %d %s", v.status, v.raw)
		}
		e.ready("pw-1")
		v := e.do("GET", status, "", nil)
		if v.status != 200 || v.body["extend_by"] != "30m" || v.body["self_extended"] != nil {
			t.Fatalf("status offers: %d %s", v.status, v.raw)
		}
		ends, _ := time.Parse(time.RFC3339, v.body["ends_at"].(string))
		v = e.do("POST", status+"/extend", "", nil)
		if v.status != 200 || v.body["self_extended"] != true || v.body["extend_by"] != nil ||
			v.body["ends_at"] != ends.Add(30*time.Minute).Format(time.RFC3339) {
			t.Fatalf("extend: %d %s", v.status, v.raw)
		}
		if v := e.do("POST", status+"/extend", "", nil); v.status != 409 || !strings.Contains(string(v.raw), "once") {
			t.Fatalf("second extend: %d %s", v.status, v.raw)
		}
		if v := e.do("POST", status+"x/extend", "", nil); v.status != 404 {
			t.Fatalf("forged link: %d", v.status)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
