package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestWorkshopSeveralLocations: operators offer a workshop at several
// locations with PATCH (a list; the old single field still works), see
// which agents are alive, and registrations go to a live one.
func TestWorkshopSeveralLocations(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		if r := e.do("POST", "/api/v1/locations", e.admin, map[string]any{"name": "hub2", "hub_url": "http://hub2.test",
			"students": 10, "base_student_id": 1000}); r.status != 201 {
			t.Fatalf("create hub2: %d %s", r.status, r.raw)
		}
		path := "/api/v1/workshops/" + e.workshop.Slug
		// An unknown location, none, or one twice: refused.
		for _, body := range []map[string]any{{"locations": []string{"local", "nowhere"}}, {"locations": []string{}},
			{"locations": []string{"hub2", "hub2"}}} {
			if r := e.do("PATCH", path, e.mod, body); r.status != 422 {
				t.Fatalf("PATCH %v: %d %s", body, r.status, r.raw)
			}
		}
		r := e.do("PATCH", path, e.mod, map[string]any{"locations": []string{"local", "hub2"}, "capacity": 4})
		if r.status != 200 || r.body["location"] != "local" || fmt.Sprint(r.body["locations"]) != "[local hub2]" ||
			r.body["seats_free"].(float64) != 4 {
			t.Fatalf("PATCH locations: %d %s", r.status, r.raw)
		}
		// Both agents beat; one goes silent.
		for _, l := range []string{"local", "hub2"} {
			loc, _ := db.FindLocation(context.Background(), l)
			if err := e.eng.Heartbeat(context.Background(), loc.ID, wod.AgentHeartbeat{Health: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
		var at []string
		for i := range 2 {
			r := e.do("POST", "/api/v1/registrations", "", map[string]any{"workshop": e.workshop.Slug, "name": "P",
				"email": fmt.Sprintf("p%d@example.com", i)})
			if r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.raw)
			}
			at = append(at, e.locationOf(r))
		}
		if !slices.Equal(at, []string{"local", "hub2"}) {
			t.Fatalf("registrations at %v", at)
		}
		clock.Advance(wod.DefaultAgentStale + time.Second)
		if err := e.eng.Heartbeat(context.Background(), e.loc.ID, wod.AgentHeartbeat{Health: "ok"}); err != nil {
			t.Fatal(err)
		}
		ls := e.do("GET", "/api/v1/locations", e.mod, nil)
		var list []map[string]any
		json.Unmarshal(ls.raw, &list)
		states := map[string]any{}
		for _, m := range list {
			states[m["name"].(string)] = m["agent_state"]
		}
		if states["local"] != wod.AgentAlive || states["hub2"] != wod.AgentSilent {
			t.Fatalf("agent states: %v (%s)", states, ls.raw)
		}
		r = e.do("POST", "/api/v1/registrations", "", map[string]any{"workshop": e.workshop.Slug, "name": "P", "email": "q@example.com"})
		if r.status != 201 || e.locationOf(r) != "local" {
			t.Fatalf("register with hub2 silent: %d %s", r.status, r.raw)
		}
		// The old single field makes it the only location again.
		r = e.do("PATCH", path, e.mod, map[string]any{"location": "hub2"})
		if r.status != 200 || fmt.Sprint(r.body["locations"]) != "[hub2]" {
			t.Fatalf("PATCH location: %d %s", r.status, r.raw)
		}
		// The OpenAPI document describes the list.
		doc := e.do("GET", "/api/v1/openapi.json", "", nil)
		if !strings.Contains(string(doc.raw), `"locations"`) || !strings.Contains(string(doc.raw), `"agent_state"`) {
			t.Fatal("openapi.json lacks locations or agent_state")
		}
	})
}

// locationOf is where a registration the API answered for was placed.
func (e *env) locationOf(r response) string {
	e.t.Helper()
	id, _ := r.body["id"].(float64)
	reg, err := e.db.FindRegistration(context.Background(), int64(id))
	if err != nil {
		e.t.Fatalf("registration of %s: %v", r.raw, err)
	}
	return reg.Location
}
