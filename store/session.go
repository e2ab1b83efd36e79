package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// CreateSession stores a login session under the hash of its secret.
func (db *DB) CreateSession(ctx context.Context, hash []byte, userID int64, expiresAt time.Time) error {
	err := db.transact(ctx, func(tx *Tx) error {
		// Sweep expired sessions now and then, on the way.
		if _, err := tx.exec(`DELETE FROM sessions WHERE expires_at < $1`, tx.now); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO sessions (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
			hash, userID, expiresAt.UTC(), tx.now)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// FindSessionUser returns the enabled user of an unexpired session.
func (db *DB) FindSessionUser(ctx context.Context, hash []byte) (u *wod.User, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		u, err = scanUser(tx.queryRow(`SELECT u.id, u.username, u.email, u.role, u.password_hash, u.disabled,
			u.last_login_at, u.created_at, u.updated_at FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.hash = $1 AND s.expires_at > $2 AND NOT u.disabled`, hash, tx.now))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.EUNAUTHORIZED, "the session has expired; log in again")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	return u, nil
}

// DeleteSession logs a session out.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	return db.transact(ctx, func(tx *Tx) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE hash = $1`, hash)
		return err
	})
}

// ReserveLoginAttempt counts an attempt against every limit's key unless
// one of them is locked; see wod.SessionService.
func (db *DB) ReserveLoginAttempt(ctx context.Context, limits ...wod.LoginLimit) (until time.Time, err error) {
	// One order for every transaction: two that take the same keys must not
	// wait for each other crosswise.
	limits = slices.Clone(limits)
	slices.SortFunc(limits, func(a, b wod.LoginLimit) int { return strings.Compare(a.Key, b.Key) })
	type counter struct {
		failures int
		start    time.Time
	}
	err = db.transact(ctx, func(tx *Tx) error {
		until = time.Time{}
		counters := make([]counter, len(limits))
		for i, l := range limits {
			// The row exists before it is read, so that PostgreSQL's row lock
			// serialises two first attempts too.
			if _, err := tx.exec(`INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 0, $2)
				ON CONFLICT (key) DO NOTHING`, l.Key, tx.now); err != nil {
				return err
			}
			var c counter
			var locked sql.NullTime
			if err := tx.queryRow(`SELECT failures, window_start, locked_until FROM login_failures WHERE key = $1`+
				tx.forUpdate(), l.Key).Scan(&c.failures, &c.start, &locked); err != nil {
				return err
			}
			quietSince := c.start
			if locked.Valid {
				if locked.Time.After(tx.now) {
					until = later(until, locked.Time.UTC())
				}
				quietSince = later(quietSince, locked.Time)
			}
			if tx.now.Sub(quietSince) > l.Window {
				c = counter{start: tx.now}
			}
			counters[i] = c
		}
		if !until.IsZero() {
			return nil
		}
		for i, l := range limits {
			c := counters[i]
			c.failures++
			var locked sql.NullTime
			if c.failures >= l.Free {
				d := l.FirstLock << min(c.failures-l.Free, 20)
				locked = sql.NullTime{Time: tx.now.Add(min(d, l.MaxLock)), Valid: true}
			}
			if _, err := tx.exec(`UPDATE login_failures SET failures = $2, window_start = $3, locked_until = $4 WHERE key = $1`,
				l.Key, c.failures, c.start, locked); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("reserve login attempt: %w", err)
	}
	return until, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ClearLoginFailures forgets the keys' attempts.
func (db *DB) ClearLoginFailures(ctx context.Context, keys ...string) error {
	err := db.transact(ctx, func(tx *Tx) error {
		for _, k := range keys {
			if _, err := tx.exec(`DELETE FROM login_failures WHERE key = $1`, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
