package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

var _ wod.HousekeepingService = (*DB)(nil)

// Prune removes history older than before, in one transaction: the bodies
// of mails that left the outbox (sent, kept or failed), finished jobs
// (done or cancelled), audit events, and login-throttle records whose
// window and lock are over. Each statement reads an index (mails and jobs
// by state, events by time).
func (db *DB) Prune(ctx context.Context, before time.Time) (p wod.Pruned, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		for _, step := range []struct {
			n     *int
			query string
			args  []any
		}{
			{&p.MailBodies, `UPDATE mails SET text_body = '', html_body = ''
				WHERE state IN ('sent', 'kept', 'failed') AND next_attempt_at < $1 AND created_at < $1
				AND (text_body <> '' OR html_body <> '')`, []any{before}},
			{&p.Jobs, `DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND run_at < $1 AND updated_at < $1`, []any{before}},
			{&p.Events, `DELETE FROM events WHERE at < $1`, []any{before}},
			{&p.LoginFailures, `DELETE FROM login_failures WHERE window_start < $1
				AND (locked_until IS NULL OR locked_until < $2)`, []any{tx.now.Add(-24 * time.Hour), tx.now}},
		} {
			res, err := tx.exec(step.query, step.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			*step.n = int(n)
		}
		return nil
	})
	if err != nil {
		return wod.Pruned{}, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}
