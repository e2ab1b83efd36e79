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

	// ReserveLoginAttempt counts a login attempt against every limit's key
	// before the password is checked, all in one transaction, so that
	// attempts made at the same moment cannot all pass a throttle that
	// only a finished failure would close. If any key is locked, nothing
	// is counted and it returns when the last of those locks ends; the zero
	// time means the attempt may go on. A success clears the keys
	// (ClearLoginFailures): an attempt is a failure until it succeeds.
	ReserveLoginAttempt(ctx context.Context, limits ...LoginLimit) (time.Time, error)
	// ClearLoginFailures forgets the keys' attempts after a success.
	ClearLoginFailures(ctx context.Context, keys ...string) error
}

// LoginLimit is the throttle of one key (an address, an address and a user
// name…): Free attempts may run; the Free-th locks the key for FirstLock,
// and each attempt after a lock ran out locks it twice as long as the
// previous one, up to MaxLock. A key starts afresh once Window has passed
// since its first counted attempt and since the end of its last lock.
type LoginLimit struct {
	Key                string
	Free               int
	FirstLock, MaxLock time.Duration
	Window             time.Duration
}
