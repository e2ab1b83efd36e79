package wod

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhooks tell operators' other tools what happens on the platform: an
// endpoint subscribes to event types, and every event of those types is
// delivered to it as a signed JSON message (the Standard Webhooks
// specification), queued in the transaction that records the event, so that
// a crash can neither lose a delivery nor announce what did not happen.

// WebhookEventType names what a webhook message tells.
type WebhookEventType string

// Webhook event types.
const (
	WebhookRegistrationCreated WebhookEventType = "registration.created"
	WebhookRegistrationReady   WebhookEventType = "registration.ready"
	WebhookRegistrationEnding  WebhookEventType = "registration.ending"
	WebhookRegistrationDone    WebhookEventType = "registration.done"
	WebhookRegistrationFailed  WebhookEventType = "registration.failed"
	WebhookRehearsalFailed     WebhookEventType = "rehearsal.failed"
	WebhookJobGivenUp          WebhookEventType = "job.given_up"
	WebhookCheckFailed         WebhookEventType = "check.failed"
)

// EventCheckFailed is the audit event a failed host or platform check
// records (its subject the location or "platform", its detail what failed);
// it is delivered as WebhookCheckFailed.
const EventCheckFailed = "check.failed"

// WebhookTrigger says what raises a webhook event type: a registration
// entering a state (the store's transitions), an audit event of a kind (the
// store's audit trail), or, with neither, a place in the store that raises
// it by name (a registration's creation, a rehearsal's failed verdict).
type WebhookTrigger struct {
	Type      WebhookEventType
	State     RegistrationState
	AuditKind string
	Doc       string
}

// WebhookTriggers lists every webhook event type, in the order operators
// see them. A new event is one line here.
var WebhookTriggers = []WebhookTrigger{
	{Type: WebhookRegistrationCreated, Doc: "a participant registered; the seat is being prepared"},
	{Type: WebhookRegistrationReady, State: StateReady, Doc: "the credentials went out; the clock runs"},
	{Type: WebhookRegistrationEnding, State: StateEnding, Doc: "the session is over; its seat is being cleaned up"},
	{Type: WebhookRegistrationDone, State: StateDone, Doc: "cleaned up, with the completion measured"},
	{Type: WebhookRegistrationFailed, State: StateFailed, Doc: "could not be prepared; the participant got an apology"},
	{Type: WebhookRehearsalFailed, Doc: "a workshop's rehearsal found a broken cell or notebook"},
	{Type: WebhookJobGivenUp, AuditKind: "job.failed", Doc: "a job failed for good after its attempts"},
	{Type: WebhookCheckFailed, AuditKind: EventCheckFailed, Doc: "a host or platform check failed"},
}

// Valid reports whether t is one of WebhookTriggers.
func (t WebhookEventType) Valid() bool {
	return slices.ContainsFunc(WebhookTriggers, func(w WebhookTrigger) bool { return w.Type == t })
}

// WebhookOnState returns the event type raised by a registration entering
// state s.
func WebhookOnState(s RegistrationState) (WebhookEventType, bool) {
	for _, w := range WebhookTriggers {
		if w.State != "" && w.State == s {
			return w.Type, true
		}
	}
	return "", false
}

// WebhookOnAudit returns the event type raised by an audit event of kind.
func WebhookOnAudit(kind string) (WebhookEventType, bool) {
	for _, w := range WebhookTriggers {
		if w.AuditKind != "" && w.AuditKind == kind {
			return w.Type, true
		}
	}
	return "", false
}

// WebhookMessage is the JSON body of every delivery.
type WebhookMessage struct {
	Type      WebhookEventType `json:"type"`
	Timestamp time.Time        `json:"timestamp"`
	Data      json.RawMessage  `json:"data"`
}

// WebhookRegistration is a registration as webhook messages carry it.
type WebhookRegistration struct {
	ID         int64             `json:"id"`
	Workshop   string            `json:"workshop"`
	Name       string            `json:"name"`
	Email      string            `json:"email"`
	Company    string            `json:"company,omitempty"`
	State      RegistrationState `json:"state"`
	Location   string            `json:"location"`
	Username   string            `json:"username,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	ReadyAt    *time.Time        `json:"ready_at,omitempty"`
	EndsAt     *time.Time        `json:"ends_at,omitempty"`
	EndedAt    *time.Time        `json:"ended_at,omitempty"`
	Completion *int              `json:"completion,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// WebhookRegistrationOf is r as webhook messages carry it.
func WebhookRegistrationOf(r *Registration) WebhookRegistration {
	return WebhookRegistration{ID: r.ID, Workshop: r.Workshop, Name: r.Name, Email: r.Email, Company: r.Company,
		State: r.State, Location: r.Location, Username: r.Username, CreatedAt: r.CreatedAt, ReadyAt: r.ReadyAt,
		EndsAt: r.EndsAt, EndedAt: r.EndedAt, Completion: r.Completion, Error: r.Error}
}

// WebhookEndpoint is an operator's receiver of webhook messages.
type WebhookEndpoint struct {
	ID          int64              `json:"id"`
	URL         string             `json:"url"`
	Description string             `json:"description,omitempty"`
	Events      []WebhookEventType `json:"events"`
	// SecretEnc is the signing secret, sealed with the server's key: it
	// is shown once, at creation and at each rotation.
	SecretEnc []byte `json:"-"`
	// PausedAt: the endpoint receives nothing until resumed; its
	// deliveries wait. PauseReason says why (an operator, or failures).
	PausedAt    *time.Time `json:"paused_at,omitempty"`
	PauseReason string     `json:"pause_reason,omitempty"`
	// ConsecutiveFailures counts the failed attempts since the last
	// success, FailingSince is the first of them.
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	LastSuccessAt       *time.Time `json:"last_success_at,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

// Subscribed reports whether the endpoint wants events of type t.
func (e *WebhookEndpoint) Subscribed(t WebhookEventType) bool { return slices.Contains(e.Events, t) }

// MaxWebhookURL bounds an endpoint's URL.
const MaxWebhookURL = 2000

// ValidateWebhookURL checks an endpoint's URL: absolute http or https, a
// host, no credentials in it (they would show in every listing).
func ValidateWebhookURL(v *Validation, raw string) {
	u, err := url.Parse(raw)
	switch {
	case strings.TrimSpace(raw) == "":
		v.Add("url", "is required")
	case len(raw) > MaxWebhookURL:
		v.Add("url", "is longer than %d characters", MaxWebhookURL)
	case err != nil:
		v.Add("url", "is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		v.Add("url", "must start with http:// or https://")
	case u.Host == "" || u.Hostname() == "":
		v.Add("url", "has no host")
	case u.User != nil:
		v.Add("url", "must not carry a user name or password: the signature authenticates the messages")
	case u.Fragment != "":
		v.Add("url", "must not have a fragment (#…)")
	}
}

// Validate checks an endpoint's URL, description and events.
func (e *WebhookEndpoint) Validate() error {
	var v Validation
	ValidateWebhookURL(&v, e.URL)
	v.Check(len(e.Description) <= 200, "description", "is longer than 200 characters")
	ValidateWebhookEvents(&v, e.Events)
	return v.Err("the webhook is not valid")
}

// ValidateWebhookEvents checks a subscription: at least one known type.
func ValidateWebhookEvents(v *Validation, events []WebhookEventType) {
	if len(events) == 0 {
		v.Add("events", "must name at least one event")
	}
	for _, t := range events {
		if !t.Valid() {
			v.Add("events", "%q is not an event type", t)
		}
	}
}

// WebhookUpdate changes an endpoint; nil fields stay.
type WebhookUpdate struct {
	URL         *string
	Description *string
	Events      []WebhookEventType
	SecretEnc   []byte
}

// WebhookDeliveryState is where a delivery stands.
type WebhookDeliveryState string

// Delivery states.
const (
	DeliveryQueued WebhookDeliveryState = "queued"
	// DeliverySending: a dispatcher holds it until its lease ends; one that
	// died mid-send leaves it to be tried again.
	DeliverySending   WebhookDeliveryState = "sending"
	DeliveryDelivered WebhookDeliveryState = "delivered"
	DeliveryFailed    WebhookDeliveryState = "failed" // for good: redeliver by hand
)

// Valid reports whether s names a state.
func (s WebhookDeliveryState) Valid() bool {
	switch s {
	case DeliveryQueued, DeliverySending, DeliveryDelivered, DeliveryFailed:
		return true
	}
	return false
}

// WebhookDelivery is one message to one endpoint, with its last answer.
type WebhookDelivery struct {
	ID         int64            `json:"id"`
	EndpointID int64            `json:"endpoint_id"`
	Type       WebhookEventType `json:"type"`
	// MessageID is the webhook-id header: the same on every attempt and on
	// every endpoint that receives the event, for receivers to deduplicate.
	MessageID     string               `json:"message_id"`
	Payload       string               `json:"payload"`
	State         WebhookDeliveryState `json:"state"`
	Attempts      int                  `json:"attempts"`
	NextAttemptAt time.Time            `json:"next_attempt_at"`
	LastAttemptAt *time.Time           `json:"last_attempt_at,omitempty"`
	// LastStatus is the HTTP status of the last answer, 0 when none came.
	LastStatus int `json:"last_status,omitempty"`
	// LastResponse is the beginning of the last answer's body.
	LastResponse string     `json:"last_response,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

// WebhookDeliveryFilter narrows a listing of deliveries.
type WebhookDeliveryFilter struct {
	EndpointID *int64
	State      *WebhookDeliveryState
	Page
}

// WebhookService keeps the endpoints and their deliveries.
type WebhookService interface {
	CreateWebhook(ctx context.Context, e *WebhookEndpoint) error
	FindWebhook(ctx context.Context, id int64) (*WebhookEndpoint, error)
	FindWebhooks(ctx context.Context) ([]*WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, id int64, upd WebhookUpdate) (*WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, id int64) error
	// PauseWebhook holds the endpoint's deliveries; alert, when set, is
	// queued in the same transaction.
	PauseWebhook(ctx context.Context, id int64, reason string, alert *Mail) (*WebhookEndpoint, error)
	// ResumeWebhook sends the held deliveries now and forgets the failures.
	ResumeWebhook(ctx context.Context, id int64) (*WebhookEndpoint, error)
	FindWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]*WebhookDelivery, int, error)
	FindWebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, error)
	// RedeliverWebhook queues a delivery again, due now, with a fresh count
	// of attempts; ECONFLICT while it is being sent.
	RedeliverWebhook(ctx context.Context, id int64) (*WebhookDelivery, error)
}

// WebhookAttempt is a claimed delivery with what sending it needs.
type WebhookAttempt struct {
	Delivery *WebhookDelivery
	URL      string
	// SecretEnc is the endpoint's sealed signing secret.
	SecretEnc []byte
	// The endpoint's failure streak when the delivery was claimed.
	ConsecutiveFailures int
	FailingSince        *time.Time
}

// WebhookOutcome is the result of one attempt.
type WebhookOutcome struct {
	DeliveryID int64
	// Attempt fences the outcome: a dispatcher whose lease ran out and
	// whose delivery was claimed again cannot record it.
	Attempt  int
	State    WebhookDeliveryState // delivered, queued (again at RetryAt) or failed
	RetryAt  *time.Time
	Status   int
	Response string
	Error    string
	// On a failure, the endpoint is paused when its streak reaches
	// PauseFailures attempts and began PauseAfter ago or more; Alert, when
	// set, is queued with the pause.
	PauseFailures int
	PauseAfter    time.Duration
	Alert         *Mail
}

// WebhookRehearsal is a rehearsal as webhook messages carry it: its
// verdict and the cells that failed, not every cell's output.
type WebhookRehearsal struct {
	ID          int64              `json:"id"`
	Workshop    string             `json:"workshop"`
	State       RehearsalState     `json:"state"`
	RequestedBy string             `json:"requested_by"`
	Location    string             `json:"location,omitempty"`
	Completion  *int               `json:"completion,omitempty"`
	Error       string             `json:"error,omitempty"`
	Failures    []WebhookCellFault `json:"failures"`
	CreatedAt   time.Time          `json:"created_at"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
}

// WebhookCellFault is a notebook, or a cell of it, that failed a rehearsal.
type WebhookCellFault struct {
	Notebook string     `json:"notebook"`
	Cell     *int       `json:"cell,omitempty"`
	Status   CellStatus `json:"status,omitempty"`
	Error    string     `json:"error"`
}

// WebhookRehearsalOf is r as webhook messages carry it.
func WebhookRehearsalOf(r *Rehearsal) WebhookRehearsal {
	out := WebhookRehearsal{ID: r.ID, Workshop: r.Workshop, State: r.State, RequestedBy: r.RequestedBy,
		Location: r.Location, Completion: r.Completion, Error: r.Error, Failures: []WebhookCellFault{},
		CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
	for _, n := range r.Notebooks {
		if n.Error != "" {
			out.Failures = append(out.Failures, WebhookCellFault{Notebook: n.Path, Error: n.Error})
		}
		for _, c := range n.Cells {
			if c.Status.Failed() {
				msg := strings.TrimSpace(c.EName + ": " + c.EValue)
				if c.Status == CellTimeout {
					msg = "timed out"
				}
				out.Failures = append(out.Failures, WebhookCellFault{Notebook: n.Path, Cell: &c.Index, Status: c.Status, Error: msg})
			}
		}
	}
	return out
}
