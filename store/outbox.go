package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wod-dev/wod"
)

// ClaimMails leases up to limit mails that are due: queued ones whose next
// attempt has come, and ones a dispatcher was sending when it died.
func (db *DB) ClaimMails(ctx context.Context, lease time.Duration, limit int) (ms []*wod.Mail, err error) {
	// One statement, atomic by itself. Queued mails and lapsed sends are
	// looked for apart, each in an ordered scan of mails_due: an OR of both
	// became a bitmap scan, which never marks the index entries of dead row
	// versions, so that every claim re-read each mail sent since the last
	// vacuum (a crowd sends three a participant: 28 ms a claim).
	err = db.writeStatement(ctx, func(tx *Tx) error {
		due := func(cond string) string {
			return `SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM mails WHERE ` + cond +
				` ORDER BY next_attempt_at, id LIMIT $3` + tx.skipLocked() + `) AS due`
		}
		var err error
		ms, err = queryAll(tx, scanMail, `WITH due AS (`+due("state = 'queued' AND next_attempt_at <= $2")+
			` UNION ALL `+due("state = 'sending' AND lease_until < $2")+`)
			UPDATE mails SET state = 'sending', attempts = attempts + 1, lease_until = $1
			WHERE id IN (SELECT id FROM due ORDER BY next_attempt_at, id LIMIT $3)
			RETURNING `+mailColumns, tx.now.Add(lease), tx.now, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim mails: %w", err)
	}
	slices.SortFunc(ms, func(a, b *wod.Mail) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return ms, nil
}

// FinishMail records the outcome of a send: sent, kept (outbox only),
// failed for good, or queued again at retryAt.
func (db *DB) FinishMail(ctx context.Context, id int64, state wod.MailState, lastError string, retryAt *time.Time) error {
	err := db.writeStatement(ctx, func(tx *Tx) error {
		next := tx.now
		if retryAt != nil {
			next = retryAt.UTC()
		}
		var sent sql.NullTime
		// Kept mail went to the outbox-only transport: that is its delivery.
		if state == wod.MailSent || state == wod.MailKept {
			sent = sql.NullTime{Time: tx.now, Valid: true}
		}
		_, err := tx.exec(`UPDATE mails SET state = $1, last_error = $2, next_attempt_at = $3, sent_at = $4,
			lease_until = NULL WHERE id = $5 AND state = 'sending'`, state, lastError, next, sent, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish mail %d: %w", id, err)
	}
	return nil
}

// RequeueMail sends a registration's mail of a kind again (an operator's
// "resend").
func (db *DB) RequeueMail(ctx context.Context, registrationID int64, kind wod.MailKind) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE mails SET state = 'queued', attempts = 0, next_attempt_at = $1, last_error = '',
			lease_until = NULL WHERE registration_id = $2 AND kind = $3 AND state <> 'sending'`, tx.now, registrationID, kind)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wod.Errorf(wod.ECONFLICT, "registration %d has no %s mail to send again (or it is being sent)", registrationID, kind)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("requeue mail: %w", err)
	}
	return nil
}

// NextMailAt returns when the next mail falls due, and false if none.
func (db *DB) NextMailAt(ctx context.Context) (next time.Time, ok bool, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		next, ok, err = earliest(tx,
			dueQuery{sql: `SELECT next_attempt_at FROM mails WHERE state = 'queued' ORDER BY next_attempt_at LIMIT 1`},
			dueQuery{sql: `SELECT lease_until FROM mails WHERE state = 'sending' ORDER BY lease_until LIMIT 1`})
		return err
	})
	return next, ok, err
}

// FindLocationByAgentToken returns the location whose agent token has the
// hash, or EUNAUTHORIZED.
func (db *DB) FindLocationByAgentToken(ctx context.Context, hash []byte) (l *wod.Location, err error) {
	// A read: on SQLite, every agent request would otherwise queue for the
	// one writing connection behind the bookings.
	err = db.readStatement(ctx, func(tx *Tx) error {
		l, err = scanLocation(tx.queryRow(`SELECT `+locationColumns+` FROM locations WHERE agent_token_hash = $1`, hash))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.EUNAUTHORIZED, "the agent token is unknown or was replaced")
		}
		if err == nil && l.Legacy() {
			// The server itself drives it with command mails: an agent
			// claiming its jobs too would run them twice.
			return wod.Errorf(wod.EFORBIDDEN, "location %s is served by an original backend (kind legacy): "+
				"no wod agent may claim its jobs", l.Name)
		}
		return err
	})
	return l, err
}

// Heartbeat records that a location's agent is alive.
//
// The location's agent jobs leased before claimedBefore that the agent
// does not list as running are released (their lease ends now) and
// returned: their claim's answer was lost, or the agent restarted. A nil
// running list (an agent that does not say) releases nothing.
func (db *DB) Heartbeat(ctx context.Context, locationID int64, health string, running []int64,
	claimedBefore time.Time) (released []*wod.Job, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`UPDATE locations SET last_heartbeat = $1, health = $2 WHERE id = $3`, tx.now, health, locationID); err != nil {
			return err
		}
		if running == nil {
			return nil
		}
		var w where
		w.add("state = 'running'")
		w.add("location_id = ?", locationID)
		w.add("kind IN ('create', 'cleanup', 'reset', 'purge', 'warm')")
		w.add("lease_until > ?", tx.now)
		w.add("updated_at < ?", claimedBefore.UTC())
		if len(running) > 0 {
			args := make([]any, len(running))
			for i, id := range running {
				args[i] = id
			}
			w.add("NOT "+inList("id", len(running)), args...)
		}
		n := len(w.args)
		released, err = queryJobs(tx, fmt.Sprintf(`UPDATE jobs SET lease_until = $%d, last_error = $%d, updated_at = $%d`, n+1, n+2, n+3)+
			w.String()+` RETURNING `+jobColumns,
			append(w.args, tx.now.Add(-time.Millisecond), "released: the agent no longer ran it (lost claim or agent restart)", tx.now)...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat of location %d: %w", locationID, err)
	}
	return released, nil
}
