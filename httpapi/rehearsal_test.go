package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/rehearsal"
	"github.com/wod-dev/wod/rehearsal/rehearsaltest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestRehearsalRoutes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		path := "/api/v1/workshops/WKSHP-API101/rehearsals"

		// No hub executor: refused, and said why.
		if r := e.do("POST", path, e.mod, nil); r.status != 503 || !strings.Contains(string(r.raw), "rehearsals need a hub executor") {
			t.Fatalf("without an executor: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", path, "", nil); r.status != 401 {
			t.Fatalf("anonymous: %d", r.status)
		}

		// With one (no agent runs here: the seats never get ready, and the
		// runs fail on their own after a second).
		runner := &rehearsal.Runner{Store: db, Engine: e.eng, Executor: &rehearsaltest.FSExecutor{Root: t.TempDir()},
			Notebooks: rehearsal.ContentNotebooks(nil), Clock: clock, ReadyTimeout: time.Second}
		e.ops.Rehearser = runner
		e.ops.RehearsalStore = db
		defer runner.Wait()
		r := e.do("POST", path, e.mod, nil)
		if r.status != 202 || r.body["state"] != "running" || r.body["workshop"] != "WKSHP-API101" || r.body["registration_id"] == nil ||
			r.body["requested_by"] != "token:moderator" {
			t.Fatalf("start: %d %s", r.status, r.raw)
		}
		id := int64(r.body["id"].(float64))
		if r := e.do("POST", path, e.mod, nil); r.status != 202 {
			t.Fatalf("second: %d %s", r.status, r.raw)
		}
		// Seats 1-3: two robots leave one seat, which a participant needs.
		if r := e.do("POST", path, e.mod, nil); r.status != 409 || !strings.Contains(string(r.raw), "no free seat") {
			t.Fatalf("third: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/api/v1/workshops/WKSHP-Nope/rehearsals", e.mod, nil); r.status != 404 {
			t.Fatalf("unknown workshop: %d %s", r.status, r.raw)
		}
		runner.Wait()
		r = e.do("GET", path, e.mod, nil)
		if r.status != 200 || r.body["total"].(float64) != 2 {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		r = e.do("GET", fmt.Sprintf("%s/%d", path, id), e.mod, nil)
		if r.status != 200 || r.body["state"] != "failed" || !strings.Contains(fmt.Sprint(r.body["error"]), "not ready") {
			t.Fatalf("get: %d %s", r.status, r.raw)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/workshops/WKSHP-Other/rehearsals/%d", id), e.mod, nil); r.status != 404 {
			t.Fatalf("another workshop's id: %d", r.status)
		}
	})
}
