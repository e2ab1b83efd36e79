package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Login throttling: a key may fail freeLoginFailures times per window; each
// failure after that locks it out for twice as long as the previous one.
const (
	freeLoginFailures = 5
	loginWindow       = 15 * time.Minute
	firstLock         = 30 * time.Second
	maxLock           = time.Hour
)

// LoginLockedUntil returns when key may try again (zero if now).
func (db *DB) LoginLockedUntil(ctx context.Context, key string) (until time.Time, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		var locked sql.NullTime
		err := tx.queryRow(`SELECT locked_until FROM login_failures WHERE key = $1`, key).Scan(&locked)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if locked.Valid && locked.Time.After(tx.now) {
			until = locked.Time.UTC()
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("login lock: %w", err)
	}
	return until, nil
}

// RecordLoginFailure counts a failure and returns the lock it earned.
func (db *DB) RecordLoginFailure(ctx context.Context, key string) (until time.Time, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		var failures int
		var start time.Time
		err := tx.queryRow(`SELECT failures, window_start FROM login_failures WHERE key = $1`+tx.forUpdate(), key).
			Scan(&failures, &start)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && tx.now.Sub(start) > loginWindow && failures <= freeLoginFailures:
			failures, start = 0, tx.now
		case err != nil:
			return err
		}
		failures++
		var locked sql.NullTime
		if failures > freeLoginFailures {
			d := firstLock << min(failures-freeLoginFailures-1, 10)
			until = tx.now.Add(min(d, maxLock))
			locked = sql.NullTime{Time: until, Valid: true}
		}
		_, err = tx.exec(`INSERT INTO login_failures (key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			locked_until = excluded.locked_until`, key, failures, start, locked)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("record login failure: %w", err)
	}
	return until, nil
}

// ClearLoginFailures forgets a key's failures.
func (db *DB) ClearLoginFailures(ctx context.Context, key string) error {
	return db.transact(ctx, func(tx *Tx) error {
		_, err := tx.exec(`DELETE FROM login_failures WHERE key = $1`, key)
		return err
	})
}
