package wod

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// MaxExtension bounds one extension of a registration, and a workshop's
// Extend.
const MaxExtension = 24 * time.Hour

// RegistrationState is where a participant's registration stands:
//
//	pending ──create ok──▶ ready ──ends_at-remind──▶ expiring ──ends_at or end now──▶ ending ──cleanup ok──▶ done
//	   └──not ready within the provision timeout──▶ failed (purged, apology sent)
//
// A participant who found the workshop full may wait for a seat instead:
//
//	waiting ──a seat frees (same transaction)──▶ pending ──▶ …
//	   └──left the line, waited too long, workshop closed──▶ left
type RegistrationState string

// Registration states.
const (
	StatePending  RegistrationState = "pending"
	StateReady    RegistrationState = "ready"
	StateExpiring RegistrationState = "expiring"
	StateEnding   RegistrationState = "ending"
	StateDone     RegistrationState = "done"
	StateFailed   RegistrationState = "failed"
	// StateWaiting: in the workshop's waiting line. It holds the e-mail
	// (one live registration per address) but no seat and no capacity.
	StateWaiting RegistrationState = "waiting"
	// StateLeft: left the waiting line without a seat (by choice, after
	// waiting too long, or because the workshop closed). Error says why.
	StateLeft RegistrationState = "left"
)

// LiveStates are the states in which a registration belongs to its
// participant; an e-mail address holds at most one registration in them.
// Waiting is one of them (the address cannot book elsewhere meanwhile), but
// a waiter holds no seat: SeatStates are the states that hold one. A test
// keeps the store's SQL equal to both lists.
var LiveStates = []RegistrationState{StatePending, StateReady, StateExpiring, StateWaiting}

// SeatStates are the states in which a registration holds a seat and
// counts against its workshop's capacity.
var SeatStates = []RegistrationState{StatePending, StateReady, StateExpiring, StateEnding}

// EndableStates are the live states a session can be ended from (a waiter
// leaves the line instead).
var EndableStates = []RegistrationState{StatePending, StateReady, StateExpiring}

// RunningStates are the states in which the participant's environment is
// theirs to use: the clock runs and the credentials are valid.
var RunningStates = []RegistrationState{StateReady, StateExpiring}

// FinalStates are the states nothing leaves: the registration is over.
var FinalStates = []RegistrationState{StateDone, StateFailed, StateLeft}

// Final reports whether the state is one of FinalStates.
func (s RegistrationState) Final() bool { return slices.Contains(FinalStates, s) }

// Live reports whether the state is one of LiveStates.
func (s RegistrationState) Live() bool { return slices.Contains(LiveStates, s) }

// Running reports whether the state is one of RunningStates.
func (s RegistrationState) Running() bool { return slices.Contains(RunningStates, s) }

// Valid reports whether s names a state.
func (s RegistrationState) Valid() bool {
	switch s {
	case StatePending, StateReady, StateExpiring, StateEnding, StateDone, StateFailed, StateWaiting, StateLeft:
		return true
	}
	return false
}

// Registration is one participant's booking of one workshop.
type Registration struct {
	ID         int64             `json:"id"`
	WorkshopID int64             `json:"workshop_id"`
	Workshop   string            `json:"workshop"` // slug
	Name       string            `json:"name"`
	Email      string            `json:"email"`
	Company    string            `json:"company"`
	State      RegistrationState `json:"state"`

	SeatID        *int64 `json:"seat_id,omitempty"`
	LocationID    int64  `json:"location_id"`
	Location      string `json:"location"`
	StudentNumber int    `json:"student_number,omitempty"`
	Username      string `json:"username,omitempty"`
	// SeatHeld: the seat still belongs to this registration (assigned or
	// dirty), so agent work on it is this registration's to do.
	SeatHeld bool `json:"seat_held"`
	// At is the registration's location as the store read it with the
	// registration (name, hub URL, first student ID; nil otherwise): an
	// agent's job names the seat's student ID, and mails and credentials
	// give the hub's links, and reading the location for them would cost
	// each a round trip.
	At *Location `json:"-"`

	CreatedAt time.Time `json:"created_at"`
	// ReadyAt is when credentials went out; the clock starts there.
	ReadyAt *time.Time `json:"ready_at,omitempty"`
	EndsAt  *time.Time `json:"ends_at,omitempty"`
	EndedAt *time.Time `json:"ended_at,omitempty"`
	// Completion is the share of the workshop's code cells the participant
	// ran, in percent, measured at cleanup.
	Completion *int `json:"completion,omitempty"`
	// Error tells operators why a registration failed.
	Error string `json:"error,omitempty"`

	// Password is the student's password, decrypted, only while live.
	Password string `json:"-"`
	// PasswordEnc is the password as stored: encrypted at rest.
	PasswordEnc []byte `json:"-"`
	// RehearsalID marks the seat of a rehearsal's robot participant: it
	// walks the same transitions, but gets no mail and counts in no
	// participant statistic, badge or catalogue figure.
	RehearsalID *int64 `json:"rehearsal_id,omitempty"`

	// WaitingSince is when the participant joined the waiting line; it
	// stays set once they got a seat, for the time they spent in line.
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
	// SeatedAt is when the line handed the waiter a seat.
	SeatedAt *time.Time `json:"seated_at,omitempty"`
	// Place is the waiter's place in the workshop's line (1: next), 0
	// when not waiting; derived when read.
	Place int `json:"place,omitempty"`
	// SelfExtended: the participant used the workshop's one extension.
	SelfExtended bool `json:"self_extended"`

	UpdatedAt time.Time `json:"updated_at"`
}

// WaitedFor is how long the participant spent in the waiting line: until
// now while waiting, else until the seat came or they left the line.
func (r *Registration) WaitedFor(now time.Time) time.Duration {
	if r.WaitingSince == nil {
		return 0
	}
	end := now
	switch {
	case r.State == StateWaiting:
	case r.SeatedAt != nil:
		end = *r.SeatedAt
	case r.EndedAt != nil:
		end = *r.EndedAt
	}
	return max(0, end.Sub(*r.WaitingSince))
}

// RegistrationRequest is what a participant submits.
type RegistrationRequest struct {
	Workshop string
	Name     string
	Email    string
	Company  string
	// ClientIP is used for rate limiting only.
	ClientIP string
	// Launch, for a learner launched from a learning platform, is the
	// platform and the learner's id there (how their next launch finds
	// this registration) and where the completion goes at the end; it is
	// recorded in the registration's own transaction (its RegistrationID
	// is filled in by the store).
	Launch *LTILaunch
	// Wait: when the workshop is full, join its waiting line instead of
	// being refused.
	Wait bool
}

// Normalize trims the request and lower-cases the e-mail address.
func (r *RegistrationRequest) Normalize() {
	r.Workshop = strings.TrimSpace(r.Workshop)
	r.Name = strings.Join(strings.Fields(r.Name), " ")
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
	r.Company = strings.TrimSpace(r.Company)
}

// Validate checks the request's syntax (not the address policy, which needs
// the deny-list, nor the workshop's existence, which needs the store).
func (r *RegistrationRequest) Validate() error {
	var v Validation
	v.Check(r.Workshop != "", "workshop", "is required")
	v.Check(r.Name != "", "name", "is required")
	v.Check(len(r.Name) <= 200, "name", "is longer than 200 characters")
	v.Check(len(r.Company) <= 200, "company", "is longer than 200 characters")
	if r.Email == "" {
		v.Add("email", "is required")
	} else if !ValidEmail(r.Email) {
		v.Add("email", "is not a valid e-mail address")
	}
	return v.Err("the registration is not valid")
}

// ValidEmail reports whether s is a bare address of the form local@domain.tld.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") &&
		!strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
}

// NewRegistration is what the store needs to book a seat: the validated
// request and the jobs and mails to create in the same transaction.
type NewRegistration struct {
	Request RegistrationRequest
	// Jobs and Mails are inserted with the registration, in its transaction,
	// so that a crash can never leave one without the other. Their
	// RegistrationID is filled in by the store.
	Jobs  []*Job
	Mails []*Mail
	// RehearsalID books the seat of that rehearsal's robot instead of a
	// participant's: it never takes a seat a participant needs (the store
	// answers EFULL unless another seat of the range stays free after it)
	// and takes the highest free seat, out of the participants' way.
	RehearsalID *int64
	// Welcome, when set, composes one more mail of a cold booking (the
	// participant's welcome) inside the booking's transaction, from the
	// workshop's settings as the booking locked its row: the booking reads
	// the workshop once.
	Welcome func(w *Workshop) (*Mail, error)
	// Warm, when set, lets the booking take a warm seat of the workshop
	// (warm.go): the store calls it inside the booking's transaction with
	// the registration as booked (pending, on the warm seat) and the
	// workshop as locked, and applies the Transition it returns there too,
	// with the seat's password; Jobs, Mails and Welcome above are then left
	// out (the seat needs no create, and the credentials say all the
	// welcome would). Without a warm seat, or for a rehearsal, the booking
	// is the cold one and Warm is not called.
	Warm func(r *Registration, w *Workshop) (*Transition, error)
	// AgentStale is how long a location's agent may be silent and still get
	// new participants, when the workshop has a location whose agent is
	// not silent (0: no location is ever stale).
	AgentStale time.Duration
	// Wait, when set, puts the participant in the workshop's waiting line
	// when no seat is free (instead of EFULL): the registration is inserted
	// waiting, with Wait's jobs and mails instead of Jobs and Mails.
	Wait *WaitPlan
}

// WaitPlan is what joining the waiting line schedules, and what a seat
// handed over from the line later needs.
type WaitPlan struct {
	Jobs  []*Job
	Mails []*Mail
	// ProvisionTimeout is the watchdog's delay once a seat is handed over:
	// it is kept with the waiter, so that whichever transaction frees a
	// seat (an agent's report, an operator's change) schedules the create
	// and its watchdog as Register does.
	ProvisionTimeout time.Duration
}

// RegistrationFilter narrows a registration listing.
type RegistrationFilter struct {
	State    *RegistrationState
	Workshop *string
	Email    *string
	// Search matches name, e-mail or company.
	Search *string
	Page
}

// RegistrationReader reads registrations. It is all the web layers (API
// and pages) get of the store's registrations: they show them, and every
// change goes through the Registrar (the engine), which schedules what a
// step needs (jobs, timers, mails) in the same transaction.
type RegistrationReader interface {
	FindRegistration(ctx context.Context, id int64) (*Registration, error)
	FindRegistrations(ctx context.Context, filter RegistrationFilter) ([]*Registration, int, error)
	// FindNotebooks returns the work a finished registration left, with
	// its zip when withData; ENOTFOUND when there is none (or no more).
	FindNotebooks(ctx context.Context, registrationID int64, withData bool) (*Notebooks, error)
	// WaitEstimate is when a waiting registration can expect its seat
	// (see EstimateWait); false when nothing allows a guess.
	WaitEstimate(ctx context.Context, r *Registration) (time.Time, bool, error)
}

// RegistrationService books seats and reads registrations. Only the engine
// books; after that a registration moves by Transition.
type RegistrationService interface {
	RegistrationReader
	// CreateRegistration places the registration at one of the workshop's
	// locations (one whose agent is alive, with the most free seats), books
	// the lowest free seat of the workshop's range there and creates the
	// registration, in one transaction.
	// EALREADYREGISTERED if the e-mail holds a live registration, EFULL if no
	// seat is left, EINVALID if the workshop is unknown or inactive.
	CreateRegistration(ctx context.Context, nr *NewRegistration) (*Registration, error)
}

// Credentials are what a participant logs in with, and what operators see
// of a registration's seat. The engine computes them (it holds the key that
// decrypts the password); everyone shows them from there.
type Credentials struct {
	// LoginURL is the hub's login page; LaunchURL logs the student in and
	// opens their server. Both are empty when the location has no hub URL.
	LoginURL, LaunchURL string
	// Username is the seat's student account; StudentID its global id
	// (the location's base plus the seat number), 0 before a seat is booked.
	Username  string
	StudentID int
	// Password is the decrypted student password, only while the
	// registration runs.
	Password string
}

// Notebooks is what a participant left in the workshop's folder, zipped by
// the agent at cleanup and kept for download for a while.
type Notebooks struct {
	Size   int
	KeptAt time.Time
	Data   []byte // a zip; nil unless asked for
}

// Registrar takes participants' registrations (it checks the request and the
// address policy, books a seat and schedules what follows) and carries out
// the participants' and operators' actions on them.
type Registrar interface {
	Register(ctx context.Context, req RegistrationRequest) (*Registration, error)
	// EndNow ends a live registration early; a waiter leaves the line.
	EndNow(ctx context.Context, id int64, actor string) (*Registration, error)
	// LeaveLine takes a waiting registration out of the line.
	LeaveLine(ctx context.Context, id int64, actor string) (*Registration, error)
	// Extend gives a running registration more time (an operator's
	// action: the participant is told by mail).
	Extend(ctx context.Context, id int64, by time.Duration, actor string) (*Registration, error)
	// ExtendSelf adds the workshop's Extend to a running registration, at
	// its participant's request: once, and only while nobody waits for a
	// seat of the workshop (ECONFLICT otherwise).
	ExtendSelf(ctx context.Context, id int64) (*Registration, error)
	// SelfExtension is how much time the participant may add now (see
	// ExtendSelf); 0 when they may not.
	SelfExtension(ctx context.Context, r *Registration) (time.Duration, error)
	// Resend sends the credentials of a running registration again.
	Resend(ctx context.Context, id int64, actor string) error
	// ResendLink sends a participant who lost the mail their status link
	// again (with the credentials once ready), if the address holds a live
	// registration; the same answer either way, so it reveals nothing.
	ResendLink(ctx context.Context, email string) error
	// Purge takes a registration's seat back at once.
	Purge(ctx context.Context, id int64, actor string) (*Registration, error)
}
