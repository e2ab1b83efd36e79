package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestChecksAlertOnNewFailure: an agent's daily checks alert the operators
// by mail (sent through the outbox) and record check.failed when a check
// starts failing, not at the next runs that find it failing still; the
// platform's checks are recorded apart.
func TestChecksAlertOnNewFailure(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		limits := wod.CheckResult{Name: "student limits", Status: wod.CheckOK, Detail: "nofile 4096"}
		firewall := wod.CheckResult{Name: "firewall", Status: wod.CheckFail, Detail: "port 5432 is open to all"}
		for day := range 3 {
			if err := w.eng.ReportChecks(w.ctx, w.loc.ID, []wod.CheckResult{limits, firewall}); err != nil {
				t.Fatal(err)
			}
			w.tick()
			clock.Advance(24 * time.Hour)
			if got := len(w.out.sent); got != 1 {
				t.Fatalf("day %d: %d alerts, want the first day's only", day, got)
			}
		}
		m := w.out.sent[0]
		if m.To != "ops@acme.test" || !strings.Contains(m.Text, "location local") ||
			!strings.Contains(m.Text, "firewall: port 5432 is open to all") || strings.Contains(m.Text, "student limits") {
			t.Fatalf("alert to %s:\n%s", m.To, m.Text)
		}
		if err := w.eng.RecordChecks(w.ctx, wod.CheckScopePlatform, "system",
			[]wod.CheckResult{{Name: "tls certificate", Status: wod.CheckFail, Detail: "expired"}}); err != nil {
			t.Fatal(err)
		}
		w.tick()
		if len(w.out.sent) != 2 || !strings.Contains(w.out.sent[1].Text, "the platform") {
			t.Fatalf("platform alert: %d mails", len(w.out.sent))
		}
		kind := wod.EventCheckFailed
		es, _, err := db.FindEvents(w.ctx, wod.EventFilter{Kind: &kind})
		if err != nil || len(es) != 2 || es[1].Subject != "location:local" || es[1].Actor != "agent@local" ||
			es[0].Subject != wod.CheckScopePlatform {
			t.Fatalf("events: %+v %v", es, err)
		}
		cs, err := db.FindHostChecks(w.ctx)
		if err != nil || len(cs) != 3 {
			t.Fatalf("verdicts: %v %v", cs, err)
		}
	})
}
