// Package wod holds the domain of Workshops-on-Demand: the types every other
// package speaks (workshops, locations, seats, registrations, jobs, mails,
// users, tokens, events, badges, announcements), their validation, the one
// error type of the application, and the interfaces of the services that the
// store, the engine and the HTTP layers implement or consume.
//
// It imports nothing of ours, so that a reader can follow a registration from
// the HTTP layer down to the store without ever walking back up.
package wod

import "time"

// Clock tells the time. Everything that schedules or stamps takes one, so that
// tests can drive whole lives of registrations without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Page bounds a listing. A zero Limit means the service's default.
type Page struct {
	Offset int
	Limit  int
}

// DefaultLimit and MaxLimit bound listings so that no request can ask for the
// whole history at once.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Normalize returns the page with its limit clamped to [1, MaxLimit].
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	if p.Offset < 0 {
		p.Offset = 0
	}
	return p
}
