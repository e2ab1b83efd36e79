package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestHostChecks: a failure is new once — its event (with its webhook
// delivery) and alert are recorded in the run that first finds it, not in
// the next runs that find it still; it keeps its since; it is new again
// after it mended; a check a run no longer makes goes.
func TestHostChecks(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		newEndpoint(t, db, "https://hooks.example.org/wod", wod.WebhookCheckFailed)
		alerts := 0
		alert := func(fs []*wod.HostCheck) (*wod.Mail, error) {
			alerts++
			var names []string
			for _, f := range fs {
				names = append(names, f.Name)
			}
			return &wod.Mail{Kind: wod.MailAlert, To: "ops@example.org", Subject: "check failed",
				Text: strings.Join(names, ",")}, nil
		}
		scope := wod.CheckScope("paris")
		run := func(rs ...wod.CheckResult) []*wod.HostCheck {
			t.Helper()
			nf, err := db.RecordHostChecks(ctx, scope, "agent@paris", rs, alert)
			if err != nil {
				t.Fatal(err)
			}
			return nf
		}
		ok := wod.CheckResult{Name: "sysctl", Status: wod.CheckOK, Detail: "fine"}
		ntpFail := wod.CheckResult{Name: "time sync", Status: wod.CheckFail, Detail: "not synchronised"}
		start := clock.Now()
		if nf := run(ok, ntpFail); len(nf) != 1 || nf[0].Name != "time sync" {
			t.Fatalf("first failure: %+v", nf)
		}
		clock.Advance(24 * time.Hour)
		if nf := run(ok, ntpFail); len(nf) != 0 {
			t.Fatalf("the same failure a day later is not new: %+v", nf)
		}
		// The platform's checks are another scope: its failure is its own.
		if nf, err := db.RecordHostChecks(ctx, wod.CheckScopePlatform, "system", []wod.CheckResult{ntpFail}, alert); err != nil || len(nf) != 1 {
			t.Fatalf("platform: %v %v", nf, err)
		}
		cs, err := db.FindHostChecks(ctx)
		if err != nil || len(cs) != 3 {
			t.Fatalf("find: %v %v", cs, err)
		}
		// Ordered by scope, then as the run listed them.
		if cs[0].Scope != scope || cs[0].Name != "sysctl" || cs[1].Name != "time sync" || cs[2].Scope != wod.CheckScopePlatform {
			t.Fatalf("order: %+v %+v %+v", cs[0], cs[1], cs[2])
		}
		if !cs[1].Since.Equal(start) || !cs[1].CheckedAt.Equal(start.Add(24*time.Hour)) || cs[1].Detail != "not synchronised" {
			t.Fatalf("failing since the first run: %+v", cs[1])
		}
		// Mended, then failing again: new again. A check gone goes.
		clock.Advance(time.Hour)
		run(ok, wod.CheckResult{Name: "time sync", Status: wod.CheckOK})
		clock.Advance(time.Hour)
		if nf := run(ntpFail); len(nf) != 1 || !nf[0].Since.Equal(clock.Now()) {
			t.Fatalf("failing again: %+v", nf)
		}
		cs, _ = db.FindHostChecks(ctx)
		if len(cs) != 2 || cs[0].Name != "time sync" {
			t.Fatalf("after the check went: %+v", cs)
		}

		es, _, err := db.FindEvents(ctx, wod.EventFilter{Kind: new(string(wod.EventCheckFailed))})
		if err != nil || len(es) != 3 {
			t.Fatalf("events: one per new failure, 3: %v %v", es, err)
		}
		if es[2].Subject != scope || es[2].Actor != "agent@paris" || es[2].Detail != "time sync: not synchronised" {
			t.Fatalf("event: %+v", es[2])
		}
		ms, _, err := db.FindMails(ctx, wod.MailFilter{})
		if err != nil || len(ms) != 3 || alerts != 3 {
			t.Fatalf("alerts: %d mails, %d composed: %v", len(ms), alerts, err)
		}
		ds, _, err := db.FindWebhookDeliveries(ctx, wod.WebhookDeliveryFilter{})
		if err != nil || len(ds) != 3 {
			t.Fatalf("webhook deliveries: %v %v", ds, err)
		}
	})
}
