package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// RecordChecks records a run of the host checks in scope (the platform's,
// or a location's) and alerts the operators of the failures it found that
// the run before did not: one mail per run that finds some, and a
// check.failed audit event per failure (with its webhooks), in the same
// transaction as the verdicts. A failure that lasts is not announced again.
func (e *Engine) RecordChecks(ctx context.Context, scope, actor string, results []wod.CheckResult) error {
	to, err := e.alertRecipients(ctx)
	if err != nil {
		return fmt.Errorf("record checks: %w", err)
	}
	var alert func([]*wod.HostCheck) (*wod.Mail, error)
	if to != "" {
		alert = func(fs []*wod.HostCheck) (*wod.Mail, error) {
			return e.compose(ctx, wod.MailAlert, &wod.Registration{}, &wod.Workshop{}, func(d *mail.Data) {
				d.To, d.Name, d.Alert = to, "operators", checkAlertText(scope, fs)
			})
		}
	}
	fs, err := e.Store.RecordHostChecks(ctx, scope, actor, results, alert)
	if err != nil {
		return err
	}
	for _, f := range fs {
		e.Logger.WarnContext(ctx, "check failed", "scope", scope, "check", f.Name, "detail", f.Detail)
	}
	if len(fs) > 0 {
		e.notify() // the alert and the webhook deliveries wait in the outbox
	}
	return nil
}

// ReportChecks implements wod.AgentService.
func (e *Engine) ReportChecks(ctx context.Context, locationID int64, results []wod.CheckResult) error {
	name := fmt.Sprint(locationID)
	if ls, err := e.Store.FindLocations(ctx); err == nil {
		for _, l := range ls {
			if l.ID == locationID {
				name = l.Name
			}
		}
	}
	return e.RecordChecks(ctx, wod.CheckScope(name), "agent@"+name, results)
}

func checkAlertText(scope string, fs []*wod.HostCheck) string {
	var b strings.Builder
	where := "the platform (the server's checks)"
	if name, ok := strings.CutPrefix(scope, "location:"); ok {
		where = "location " + name + " (its agent's checks)"
	}
	fmt.Fprintf(&b, "The daily checks of %s found %d new failure(s):\n", where, len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "\n- %s: %s (since %s)", f.Name, f.Detail, f.Since.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n\nThe admin dashboard lists every check. A failure that lasts is not announced again; " +
		"run `wod check` on the host once it is mended.")
	return b.String()
}
