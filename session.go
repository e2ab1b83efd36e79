package wod

import (
	"context"
	"time"
)

// SessionService keeps operators' login sessions (the admin UI and cookie
// callers of the API) and the failed-login counters that throttle guessing.
// Both live in the database so that they hold across replicas and restarts.
type SessionService interface {
	// CreateSession stores a session under the hash of its secret.
	CreateSession(ctx context.Context, hash []byte, userID int64, expiresAt time.Time) error
	// FindSessionUser returns the enabled user of an unexpired session, or
	// EUNAUTHORIZED.
	FindSessionUser(ctx context.Context, hash []byte) (*User, error)
	DeleteSession(ctx context.Context, hash []byte) error

	// LoginLockedUntil returns when key (a user name or an address) may try
	// again, or the zero time if it may now.
	LoginLockedUntil(ctx context.Context, key string) (time.Time, error)
	// RecordLoginFailure counts a failure for key and returns the lock it
	// earned, growing exponentially after the first few failures.
	RecordLoginFailure(ctx context.Context, key string) (time.Time, error)
	// ClearLoginFailures forgets key's failures after a success.
	ClearLoginFailures(ctx context.Context, key string) error
}
