package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestWaitingLineAnswers(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		for i := range 3 {
			if r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "P", fmt.Sprintf("p%d@example.com", i))); r.status != 201 {
				t.Fatalf("registration %d: %d %s", i, r.status, r.raw)
			}
			e.ready(fmt.Sprintf("pw-%d", i))
		}
		// Full: 409 saying that waiting is possible.
		r := e.do("POST", "/api/v1/registrations", "", registration("WKSHP-API101", "Wes", "wes@example.com"))
		if r.status != 409 || r.body["code"] != "full" || r.body["can_wait"] != true ||
			!strings.Contains(r.body["message"].(string), "waiting line") {
			t.Fatalf("full: %d %s", r.status, r.raw)
		}
		// With "wait": 202, waiting, place 1 and an estimate: the first
		// session's end plus the (default) cleanup time.
		req := registration("WKSHP-API101", "Wes", "wes@example.com")
		req["wait"] = true
		r = e.do("POST", "/api/v1/registrations", "", req)
		if r.status != 202 || r.body["state"] != "waiting" || r.body["place"] != float64(1) {
			t.Fatalf("wait: %d %s", r.status, r.raw)
		}
		want := clock.Now().Add(2*time.Hour + 30*time.Second).Format(time.RFC3339)
		if r.body["estimated_at"] != want {
			t.Fatalf("estimated_at = %v, want %s", r.body["estimated_at"], want)
		}
		statusAPI := "/api/v1/status/" + strings.TrimPrefix(r.body["status_url"].(string), "http://wod.test/status/")
		req["email"] = "zoe@example.com"
		if r = e.do("POST", "/api/v1/registrations", "", req); r.status != 202 || r.body["place"] != float64(2) {
			t.Fatalf("second waiter: %d %s", r.status, r.raw)
		}
		zoeAPI := "/api/v1/status/" + strings.TrimPrefix(r.body["status_url"].(string), "http://wod.test/status/")
		// The waiter holds the address.
		req["email"] = "wes@example.com"
		if r = e.do("POST", "/api/v1/registrations", "", req); r.status != 409 || r.body["code"] != "already_registered" {
			t.Fatalf("waiter again: %d %s", r.status, r.raw)
		}
		// The status shows the place and the estimate.
		r = e.do("GET", statusAPI, "", nil)
		if r.status != 200 || r.body["state"] != "waiting" || r.body["place"] != float64(1) || r.body["estimated_at"] != want ||
			r.body["password"] != nil {
			t.Fatalf("status: %d %s", r.status, r.raw)
		}
		// Operators list the waiters with their place.
		r = e.do("GET", "/api/v1/registrations?state=waiting", e.mod, nil)
		if items, _ := r.body["items"].([]any); r.status != 200 || len(items) != 2 {
			t.Fatalf("waiting list: %d %s", r.status, r.raw)
		}
		// Leaving: one call; Zoe moves up; leaving again is a conflict.
		r = e.do("POST", statusAPI+"/leave", "", nil)
		if r.status != 200 || r.body["state"] != "left" {
			t.Fatalf("leave: %d %s", r.status, r.raw)
		}
		if r = e.do("POST", statusAPI+"/leave", "", nil); r.status != 409 {
			t.Fatalf("leave twice: %d %s", r.status, r.raw)
		}
		if r = e.do("GET", zoeAPI, "", nil); r.body["place"] != float64(1) {
			t.Fatalf("Zoe's place: %s", r.raw)
		}
	})
}
