// Package operator carries out what operators do to the platform, once:
// users and API tokens, announcements, workshops and their imports,
// locations, LTI platforms, failed jobs. Each action checks its input, acts
// through the store and records its audit event. The REST API (httpapi), the
// admin pages (web) and the CLI (cmd/wod) are thin adapters over it, so that
// a rule lives in one place and the front ends cannot drift apart.
//
// Registrations are not here: the lifecycle engine (package engine) owns
// every step of a participant's registration.
package operator

import (
	"context"
	"log/slog"

	"github.com/wod-dev/wod"
)

// Service is the operators' use cases over the store. Every method takes the
// caller who acts, for the audit trail; the adapters have already checked
// that the caller's role may call it.
type Service struct {
	Users         wod.UserService
	Tokens        wod.TokenService
	Announcements wod.AnnouncementService
	Workshops     wod.WorkshopService
	Locations     wod.LocationService
	LTI           wod.LTIService
	Jobs          wod.JobService
	Events        wod.EventService
	Clock         wod.Clock
	Logger        *slog.Logger
}

// audit records what the caller did. The action has happened by then, so a
// failure to record it is logged rather than returned.
func (s *Service) audit(ctx context.Context, by *wod.Caller, kind, subject, detail string) {
	actor := "anonymous"
	if by != nil && by.Name != "" {
		actor = by.Name
	}
	if err := s.Events.RecordEvent(ctx, &wod.Event{Actor: actor, Kind: kind, Subject: subject, Detail: detail}); err != nil {
		s.Logger.ErrorContext(ctx, "record audit event", "kind", kind, "error", err)
	}
}
