package operator_test

import (
	"context"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestLocationActions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		if err := ops.CreateLocation(ctx, boss, &wod.Location{Name: "Bad Name"}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("create a bad location: %v", err)
		}
		l := &wod.Location{Name: "hub1", HubURL: "http://hub1.test", Students: 5}
		if err := ops.CreateLocation(ctx, boss, l); err != nil || l.ID == 0 {
			t.Fatalf("create: %v", err)
		}
		students := 8
		if l, err := ops.UpdateLocation(ctx, boss, "hub1", wod.LocationUpdate{Students: &students}); err != nil || l.Students != 8 {
			t.Fatalf("update: %+v %v", l, err)
		}
		tok, err := ops.IssueAgentToken(ctx, boss, "hub1")
		if err != nil || tok == "" {
			t.Fatalf("agent token: %q %v", tok, err)
		}
		if got, err := db.FindLocationByAgentToken(ctx, secret.HashToken(tok)); err != nil || got.Name != "hub1" {
			t.Fatalf("the agent token opens %+v, %v", got, err)
		}
		if _, err := ops.IssueAgentToken(ctx, boss, "nowhere"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("agent token of no location: %v", err)
		}
		if err := ops.DeleteLocation(ctx, boss, "hub1"); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"location.create", "location.update", "location.agent_token", "location.delete"} {
			es := auditOf(t, db, kind)
			if len(es) != 1 || es[0].Actor != "boss" || es[0].Subject != "location:hub1" || es[0].Detail != "" {
				t.Fatalf("audit of %s: %+v", kind, es)
			}
		}
	})
}

func TestEnsureLocalLocation(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ops := catalogService(db, clock)
		l, err := ops.EnsureLocalLocation(ctx, "http://127.0.0.1:8000", 10)
		if err != nil || l.Name != operator.LocalLocation || l.HubURL != "http://127.0.0.1:8000" || l.Students != 10 {
			t.Fatalf("create: %+v %v", l, err)
		}
		again, err := ops.EnsureLocalLocation(ctx, "http://127.0.0.1:8000", 10)
		if err != nil || again.ID != l.ID {
			t.Fatalf("unchanged: %+v %v", again, err)
		}
		moved, err := ops.EnsureLocalLocation(ctx, "http://127.0.0.1:9000", 20)
		if err != nil || moved.ID != l.ID || moved.HubURL != "http://127.0.0.1:9000" || moved.Students != 20 {
			t.Fatalf("update: %+v %v", moved, err)
		}
		if ls, err := db.FindLocations(ctx); err != nil || len(ls) != 1 || ls[0].Students != 20 {
			t.Fatalf("locations: %+v %v", ls, err)
		}
		for _, kind := range []string{"location.create", "location.update"} {
			if es := auditOf(t, db, kind); len(es) != 0 {
				t.Fatalf("the platform's own location is audited: %+v", es)
			}
		}
	})
}
