package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/wod-dev/wod"
)

// Housekeeper prunes the history older than Retention, every Every
// (default an hour), so that a platform that runs for years keeps a
// database of the size of its recent months: the bodies of old mails (a
// credentials mail is tens of kilobytes of HTML), finished jobs, old audit
// events. Several servers on one database may all run one: pruning twice
// prunes nothing more.
type Housekeeper struct {
	Store  wod.HousekeepingService
	Clock  wod.Clock
	Logger *slog.Logger
	// Retention of the history; 0 keeps it all.
	Retention time.Duration
	// NotebookRetention is how long participants' notebooks are kept for
	// download; 0 leaves them alone (the engine keeps none then).
	NotebookRetention time.Duration
	Every             time.Duration
}

// Run prunes at once, then every Every, until ctx ends.
func (h *Housekeeper) Run(ctx context.Context) {
	every := h.Every
	if every <= 0 {
		every = time.Hour
	}
	for {
		h.PruneNow(ctx)
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// PruneNow prunes once and logs what went.
func (h *Housekeeper) PruneNow(ctx context.Context) wod.Pruned {
	var p wod.Pruned
	now := h.Clock.Now()
	if h.NotebookRetention > 0 {
		n, err := h.Store.PruneNotebooks(ctx, now.Add(-h.NotebookRetention))
		if err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "housekeeping", "error", err)
		}
		p.Notebooks = n
	}
	if h.Retention <= 0 {
		return p
	}
	before := now.Add(-h.Retention)
	history, err := h.Store.Prune(ctx, before)
	history.Notebooks = p.Notebooks
	p = history
	switch {
	case err != nil && ctx.Err() == nil:
		h.Logger.WarnContext(ctx, "housekeeping", "error", err)
	case p.Total() > 0:
		h.Logger.InfoContext(ctx, "pruned history", "before", before.Format(time.RFC3339), "mail_bodies", p.MailBodies,
			"jobs", p.Jobs, "events", p.Events, "webhook_deliveries", p.WebhookDeliveries, "login_failures", p.LoginFailures, "notebooks", p.Notebooks)
	}
	return p
}
