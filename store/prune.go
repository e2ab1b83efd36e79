package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

var _ wod.HousekeepingService = (*DB)(nil)

// pruneBatch bounds the rows one prune transaction touches: the first prune
// of a long history must not hold SQLite's only writer (and registrations
// with it) for seconds.
const pruneBatch = 1000

// Prune removes history older than before, a batch per transaction: the
// bodies of mails that left the outbox (sent, kept or failed), finished jobs
// (done or cancelled), audit events, finished webhook deliveries, and login-throttle records whose
// window and lock are over. Each statement reads an index (mails and jobs
// by state, events by time).
func (db *DB) Prune(ctx context.Context, before time.Time) (p wod.Pruned, err error) {
	for _, step := range []struct {
		n     *int
		query string
	}{
		{&p.MailBodies, `UPDATE mails SET text_body = '', html_body = '' WHERE id IN (SELECT id FROM mails
			WHERE state IN ('sent', 'kept', 'failed') AND next_attempt_at < $1 AND created_at < $1
			AND (text_body <> '' OR html_body <> '') LIMIT $2)`},
		{&p.Jobs, `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
			WHERE state IN ('done', 'cancelled') AND run_at < $1 AND updated_at < $1 LIMIT $2)`},
		{&p.Events, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)`},
		{&p.WebhookDeliveries, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
			WHERE state IN ('delivered', 'failed') AND next_attempt_at < $1 AND created_at < $1 LIMIT $2)`},
	} {
		for {
			n, err := db.pruneOnce(ctx, step.query, before)
			if err != nil {
				return p, fmt.Errorf("prune: %w", err)
			}
			*step.n += n
			if n < pruneBatch {
				break
			}
		}
	}
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM login_failures WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $2)`,
			tx.now.Add(-24*time.Hour), tx.now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		p.LoginFailures = int(n)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}

// pruneOnce runs one batch of a prune statement in its own transaction.
func (db *DB) pruneOnce(ctx context.Context, query string, before time.Time) (n int, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(query, before, pruneBatch)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		return err
	})
	return n, err
}
