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
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/secret"
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

	// AgentTokens keeps the locations' agent tokens (IssueAgentToken).
	AgentTokens AgentTokens
	// ContentDirs are the server's content directories (--content), which
	// ReimportContent reads; none means the server has nothing to import.
	ContentDirs []string
	// ContentSync, when set, follows the content repositories
	// (--content-repo): ReimportContent syncs them rather than read
	// ContentDirs, and ContentRepos lists their state.
	ContentSync  ContentSyncer
	ContentRepos wod.ContentRepoService
	// ContentVars are the notebooks' variables a content import renders
	// every workshop with before it accepts the content.
	ContentVars content.Vars
	// StrictContent refuses content that would not render for a student;
	// otherwise an import logs the problems and goes on.
	StrictContent bool
	// RehearsalStore keeps the rehearsals, Rehearser starts them; without a
	// Rehearser a request to rehearse answers EUNAVAILABLE.
	RehearsalStore wod.RehearsalService
	Rehearser      Rehearser
	// Webhooks keeps the webhook endpoints; WebhookKeys seals their
	// signing secrets (without it, no endpoint can be created).
	Webhooks    wod.WebhookService
	WebhookKeys WebhookSealer
	// Passwords hashes operators' passwords; the zero Hasher is wod's
	// argon2id parameters (tests pass secret.CheapHasher).
	Passwords secret.Hasher
	// ContentWait, when set, is the server's content waiting for its
	// first location: adding one wakes it.
	ContentWait *ContentWait
}

// audit records what the caller did. The action has happened by then, so a
// failure to record it is logged rather than returned.
func (s *Service) audit(ctx context.Context, by *wod.Caller, kind, subject, detail string) {
	if err := s.Events.RecordEvent(ctx, &wod.Event{Actor: callerName(by), Kind: kind, Subject: subject, Detail: detail}); err != nil {
		s.Logger.ErrorContext(ctx, "record audit event", "kind", kind, "error", err)
	}
}

// callerName is who acts, as the audit trail names them.
func callerName(by *wod.Caller) string {
	if by == nil || by.Name == "" {
		return "anonymous"
	}
	return by.Name
}
