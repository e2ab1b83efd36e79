package wod

import (
	"context"
	"time"
)

// MailKind names a mail of the lifecycle. The outbox holds at most one mail
// of a kind and key per registration, so none is ever sent twice: most kinds
// go once (key ""), a reminder once per end time, and an extension notice
// once per new end.
type MailKind string

// Mail kinds.
const (
	MailWelcome     MailKind = "welcome"
	MailCredentials MailKind = "credentials"
	MailReminder    MailKind = "reminder"
	MailGoodbye     MailKind = "goodbye"
	MailApology     MailKind = "apology"
	MailAlert       MailKind = "alert"
	MailBadge       MailKind = "badge"
	// MailWaiting: the participant joined the waiting line.
	MailWaiting MailKind = "waiting"
	// MailWaitExpired: the participant left the line without a seat (they
	// waited too long or the workshop closed).
	MailWaitExpired MailKind = "wait-expired"
	// MailExtended: an operator gave the participant more time.
	MailExtended MailKind = "extended"
)

// MailState is where an outbox entry stands.
type MailState string

// Mail states.
const (
	MailQueued MailState = "queued"
	// MailSending: a dispatcher holds the mail until its lease ends; a
	// dispatcher that died mid-send leaves it to be tried again.
	MailSending MailState = "sending"
	MailSent    MailState = "sent"
	MailFailed  MailState = "failed" // permanently: visible to admins
	// MailKept: the outbox-only transport keeps mail for the admin UI and API.
	MailKept MailState = "kept"
)

// Mail is one outbox entry.
type Mail struct {
	ID             int64    `json:"id"`
	RegistrationID *int64   `json:"registration_id,omitempty"`
	Kind           MailKind `json:"kind"`
	// Key tells apart the mails of a kind that may go more than once (a
	// reminder per end time); "" for the kinds that go once.
	Key           string     `json:"key,omitempty"`
	To            string     `json:"recipient"`
	Subject       string     `json:"subject"`
	Text          string     `json:"text"`
	HTML          string     `json:"-"`
	State         MailState  `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

// MailFilter narrows an outbox listing.
type MailFilter struct {
	ID             *int64
	RegistrationID *int64
	State          *MailState
	Kind           *MailKind
	Page
}

// MailService reads the outbox. The mailer owns sending.
type MailService interface {
	FindMails(ctx context.Context, filter MailFilter) ([]*Mail, int, error)
}
