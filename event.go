package wod

import (
	"context"
	"time"
)

// Event is one line of the audit trail: who did what to which thing.
type Event struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`   // a user, token, agent or "system"
	Kind    string    `json:"kind"`    // e.g. workshop.update, login.failed, guard.kill
	Subject string    `json:"subject"` // e.g. workshop:WKSHP-API101
	Detail  string    `json:"detail,omitempty"`
}

// EventFilter narrows an event listing.
type EventFilter struct {
	Kind    *string
	Subject *string
	Page
}

// EventService keeps the audit trail.
type EventService interface {
	RecordEvent(ctx context.Context, e *Event) error
	FindEvents(ctx context.Context, filter EventFilter) ([]*Event, int, error)
}
