// Package engine is wod's lifecycle engine. It takes registrations, books
// seats, and carries each registration from pending to done on durable
// jobs: agent operations (create, cleanup, reset, purge) that the
// location's agent claims, and timers (remind, expire, watchdog) that the
// engine fires itself. Every step is one store transaction that also
// completes the job that caused it, so a crash between steps loses nothing
// and a step never runs twice.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
)

// Store is what the engine needs of the store.
type Store interface {
	// FindWorkshopSettings reads a workshop without counting its seats.
	FindWorkshopSettings(ctx context.Context, slug string) (*wod.Workshop, error)
	FindLocation(ctx context.Context, name string) (*wod.Location, error)
	FindUsers(ctx context.Context) ([]*wod.User, error)
	CreateRegistration(ctx context.Context, nr *wod.NewRegistration) (*wod.Registration, error)
	FindRegistration(ctx context.Context, id int64) (*wod.Registration, error)
	// FindRegistrationWorkshop is FindRegistration and FindWorkshopSettings
	// of its workshop in one read.
	FindRegistrationWorkshop(ctx context.Context, id int64) (*wod.Registration, *wod.Workshop, error)
	FindRegistrations(ctx context.Context, f wod.RegistrationFilter) ([]*wod.Registration, int, error)
	Transition(ctx context.Context, t *wod.Transition) (*wod.Registration, error)
	// Apply is Transition without reading the registration back.
	Apply(ctx context.Context, t *wod.Transition) error
	ClaimJobs(ctx context.Context, kinds []wod.JobKind, locationID *int64, worker string, lease time.Duration, limit int) (jobs []*wod.Job, more bool, err error)
	ClaimAgentJob(ctx context.Context, kinds []wod.JobKind, locationID int64, worker string, lease time.Duration) (*wod.Job, *wod.Registration, *wod.Workshop, bool, error)
	NextJobAt(ctx context.Context, kinds []wod.JobKind, locationID *int64) (time.Time, bool, error)
	// FindJobRegistration reads a job, and FindRegistrationWorkshop of its
	// registration when it has one (nil otherwise), in one read.
	FindJobRegistration(ctx context.Context, id int64) (*wod.Job, *wod.Registration, *wod.Workshop, error)
	CompleteJob(ctx context.Context, d *wod.JobCompletion) error
	FailJob(ctx context.Context, jobID int64, attempt int, msg, output string, retryAt *time.Time) error
	SnoozeJob(ctx context.Context, jobID int64, attempt int, runAt time.Time) error
	BadgeStanding(ctx context.Context, r *wod.Registration) (finished, level int, before bool, err error)
	RequeueMail(ctx context.Context, registrationID int64, kind wod.MailKind) error
	FindMails(ctx context.Context, f wod.MailFilter) ([]*wod.Mail, int, error)
	Heartbeat(ctx context.Context, locationID int64, health string, running []int64, claimedBefore time.Time) ([]*wod.Job, error)
	SetLocationKernels(ctx context.Context, locationID int64, kernels []string) error
	HeldSeats(ctx context.Context, locationID int64) ([]int, error)
	WarmSeats(ctx context.Context, locationID int64) ([]int, error)
	FindLocations(ctx context.Context) ([]*wod.Location, error)
	RecordEvent(ctx context.Context, e *wod.Event) error
	WarmPools(ctx context.Context) ([]*wod.WarmPoolState, error)
	KeepWarm(ctx context.Context, workshopID, locationID int64) (*wod.WarmPoolState, int, error)
	ReclaimWarming(ctx context.Context) (int, error)
	WarmJobSeat(ctx context.Context, jobID int64) (int, bool, error)
	WarmReady(ctx context.Context, d *wod.JobCompletion, passwordEnc []byte) (bool, error)
	MoveStrandedCreates(ctx context.Context, stale time.Duration, limit int) ([]wod.CreateMove, error)
	ReleaseSeat(ctx context.Context, p wod.SeatPurge, done *wod.JobCompletion) error
	WaitEstimate(ctx context.Context, r *wod.Registration) (time.Time, bool, error)
	RecordHostChecks(ctx context.Context, scope, actor string, results []wod.CheckResult,
		alert func([]*wod.HostCheck) (*wod.Mail, error)) ([]*wod.HostCheck, error)
	FindJobs(ctx context.Context, f wod.JobFilter) ([]*wod.Job, int, error)
	HoldJob(ctx context.Context, jobID int64, attempt int, until time.Time, result []byte) error
}

// Grades reports completions to grade books. Reporting runs as a job, with
// the timers' retries and backoff, so that a platform that is down loses
// nothing.
type Grades interface {
	// WantsGrade reports whether the registration has a grade book.
	WantsGrade(ctx context.Context, registrationID int64) (bool, error)
	// ReportGrade posts the finished registration's completion.
	ReportGrade(ctx context.Context, r *wod.Registration) error
}

// AddressPolicy decides which e-mail addresses may register.
type AddressPolicy interface {
	Check(addr string) error
}

// Composer renders mails.
type Composer interface {
	Render(d mail.Data) (subject, text, html string, err error)
}

// Engine drives registrations. Fill the exported fields, then call Start or
// drive it with RunDue in tests.
type Engine struct {
	Store    Store
	Policy   AddressPolicy
	Composer Composer
	Keys     *secret.Keys
	Clock    wod.Clock
	Logger   *slog.Logger

	// PublicURL is the server's address, for the links in mails.
	PublicURL string
	// ProvisionTimeout is how long a registration may stay pending before
	// it is purged with an apology.
	ProvisionTimeout time.Duration
	// RemindBefore is when the reminder goes out, before the end.
	RemindBefore time.Duration
	// NotebookRetention is how long the participant's notebooks stay
	// downloadable after the end (0: they are not kept).
	NotebookRetention time.Duration
	// WaitMax is how long a participant stays in a waiting line at most
	// (0: wod.DefaultWaitMax).
	WaitMax time.Duration
	// AgentLease is how long an agent holds a job before it is given to
	// another attempt.
	AgentLease time.Duration
	// AgentStale is how long a location's agent may be silent before the
	// location gets no new participants (while its workshop has another
	// whose agent is alive) and its pending creates move to such a one.
	// 0: wod.DefaultAgentStale.
	AgentStale time.Duration
	// AlertTo receives operator alerts; when empty, admins with an e-mail
	// address do.
	AlertTo []string
	// Content, when set, gives the commits of the content repositories
	// the catalogue was imported from; agents' jobs carry them so that
	// every deployment is of a commit the import checked.
	Content wod.ContentRepoService
	// Worker names this process in job leases.
	Worker string
	// Observer, when set, hears of registrations, timers and agent reports
	// (metrics, benchmarks).
	Observer Observer
	// Grades, when set, reports finished registrations' completion to
	// where they came from (an LTI platform's grade book).
	Grades Grades

	// WarmEvery is how often Run's loop keeps the warm pools (default
	// 2 s); RunDue keeps them at every call.
	WarmEvery time.Duration

	// Commands sends the command mails of legacy locations (an original
	// wod-backend); nil: their jobs wait. LegacyWait is how long a sent
	// command waits for the backend's callbacks before it is sent again
	// (0: DefaultLegacyWait).
	Commands   CommandMailer
	LegacyWait time.Duration

	lastWarm time.Time // Run's loop only
	wakeMu   sync.Mutex
	wake     chan struct{} // closed and replaced to wake every waiter
	// claims hold, by location, the wake-up of the agents' long-polls: a
	// token (a channel of one) that one waiting claim takes. Work at one
	// location wakes one of its claims, which passes the token on when it
	// found a job and more are due: a crowd booking at twenty locations
	// would otherwise wake every waiting claim for each booking, all of
	// them then querying the jobs at once.
	claims map[int64]chan struct{}
	// lookouts hold, by location, the last look of a claim for jobs and
	// the wake-ups since (see lookAgain).
	lookouts map[int64]*lookout
	// wokenAll counts the wake-ups of every location at once.
	wokenAll uint64
	// hearing: the store tells this server of every agent job as its
	// transaction commits, whichever replica scheduled it (FollowAgentJobs
	// is listening): its own steps then leave the claims to that, rather
	// than waking one more for each.
	hearing atomic.Bool
}

// Defaults.
const (
	DefaultProvisionTimeout = 10 * time.Minute
	DefaultRemindBefore     = time.Hour
	DefaultAgentLease       = 10 * time.Minute
	timerLease              = time.Minute
	// orphanGrace is how long a claimed job may go unmentioned by its
	// agent's heartbeats before it is released: the claim's answer and a
	// heartbeat composed just before it may cross.
	orphanGrace = 15 * time.Second
)

var (
	agentKinds = []wod.JobKind{wod.JobCreate, wod.JobCleanup, wod.JobReset, wod.JobPurge, wod.JobWarm}
	timerKinds = []wod.JobKind{wod.JobRemind, wod.JobExpire, wod.JobWatchdog, wod.JobGrade, wod.JobWaitNotice, wod.JobWaitExpire}
)

var _ wod.Registrar = (*Engine)(nil)
var _ wod.AgentService = (*Engine)(nil)

func (e *Engine) now() time.Time { return e.Clock.Now().UTC() }

// notify wakes the timer loop, the outbox and every agent waiting for a
// job.
func (e *Engine) notify() { e.notifyAt(0) }

// notifyAt wakes the timer loop, the outbox and the agents waiting for a
// job at the location (every agent when locationID is 0): for work whose
// agent jobs, if any, are all at that location. While the store tells of
// agent jobs (hearing), the agents are left to its word: a step wakes no
// claim that would find nothing (a job that waited for another of its
// registration to end is found by the claims' look every second).
func (e *Engine) notifyAt(locationID int64) {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	if e.wake != nil {
		close(e.wake)
	}
	e.wake = make(chan struct{})
	if !e.hearing.Load() {
		e.wakeClaimsLocked(locationID)
	}
}

// WakeClaims wakes the agents waiting for a job at the location (every
// agent when locationID is 0), and nothing else: another server replica
// scheduled agent work there (see ListenAgentJobs).
func (e *Engine) WakeClaims(locationID int64) {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	e.wakeClaimsLocked(locationID)
}

func (e *Engine) wakeClaimsLocked(locationID int64) {
	if locationID == 0 {
		e.wokenAll++
		for _, c := range e.claims {
			signal(c)
		}
		return
	}
	e.lookoutLocked(locationID).woken++
	signal(e.claimTokenLocked(locationID))
}

// claimToken returns the location's wake-up token (see claims).
func (e *Engine) claimToken(locationID int64) chan struct{} {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	return e.claimTokenLocked(locationID)
}

func (e *Engine) claimTokenLocked(locationID int64) chan struct{} {
	if e.claims == nil {
		e.claims = map[int64]chan struct{}{}
	}
	c := e.claims[locationID]
	if c == nil {
		c = make(chan struct{}, 1)
		e.claims[locationID] = c
	}
	return c
}

// Notified returns a channel closed when the engine next schedules work
// (the outbox dispatcher waits on it too).
func (e *Engine) Notified() <-chan struct{} {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	if e.wake == nil {
		e.wake = make(chan struct{})
	}
	return e.wake
}

// signal leaves the token, unless one is already there.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Register validates the request, applies the address policy and books a
// seat; in the same transaction it schedules the agent's create job, the
// watchdog and the welcome mail — or, when the workshop has a warm seat,
// takes it and makes the registration ready at once (warmReady). A full
// workshop answers EFULL, or, when the request says it will wait, puts the
// participant in its waiting line: the registration is waiting, with the
// waiting mail and the end of the wait scheduled.
func (e *Engine) Register(ctx context.Context, req wod.RegistrationRequest) (_ *wod.Registration, err error) {
	defer func() { observer(e.Observer).Registered(err) }()
	req.Normalize()
	if err := e.check(ctx, req); err != nil {
		return nil, err
	}
	now := e.now()
	// The store reads the workshop as it locks it, and the mails are
	// composed from that read, inside the booking's transaction.
	var w *wod.Workshop
	nr := &wod.NewRegistration{
		Request: req,
		Jobs: []*wod.Job{
			{Kind: wod.JobCreate, RunAt: now},
			{Kind: wod.JobWatchdog, RunAt: now.Add(e.ProvisionTimeout)},
		},
		Welcome: func(locked *wod.Workshop) (*wod.Mail, error) {
			w = locked
			return e.compose(ctx, wod.MailWelcome, &wod.Registration{Name: req.Name, Email: req.Email, Workshop: locked.Slug},
				locked, nil)
		},
		AgentStale: e.agentStale(),
		// The warm booking's mails are composed at the location read with
		// the registration (composeAt).
		Warm: func(r *wod.Registration, locked *wod.Workshop) (*wod.Transition, error) {
			w = locked
			return e.warmReady(ctx, r, locked)
		},
	}
	if req.Wait {
		nr.Wait = e.waitPlan(now)
	}
	r, err := e.Store.CreateRegistration(ctx, nr)
	if err != nil {
		return nil, fmt.Errorf("register for %s: %w", req.Workshop, err)
	}
	e.observeBooking(r, w)
	e.notifyAt(r.LocationID)
	if r.State == wod.StateWaiting {
		e.Logger.InfoContext(ctx, "registration waits for a seat", "registration", r.ID, "workshop", r.Workshop,
			"place", r.Place)
		return r, nil
	}
	e.Logger.InfoContext(ctx, "registration booked", "registration", r.ID, "workshop", r.Workshop,
		"seat", r.Username, "location", r.Location)
	return r, nil
}

// check reports every problem of a request at once: its syntax, the
// address policy and, when either fails, the workshop. A valid request's
// workshop is checked by the store as it books the seat, atomically, with
// the same message.
func (e *Engine) check(ctx context.Context, req wod.RegistrationRequest) error {
	var fields []wod.FieldError
	var we *wod.Error
	if err := req.Validate(); errors.As(err, &we) {
		fields = append(fields, we.Fields...)
	}
	if !slices.ContainsFunc(fields, func(f wod.FieldError) bool { return f.Field == "email" }) {
		if err := e.Policy.Check(req.Email); err != nil {
			fields = append(fields, wod.FieldError{Field: "email", Message: err.Error()})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	if req.Workshop != "" {
		w, err := e.Store.FindWorkshopSettings(ctx, req.Workshop)
		switch {
		case wod.ErrorCode(err) == wod.ENOTFOUND, err == nil && !w.Active:
			fields = append(fields, wod.FieldError{Field: "workshop", Message: fmt.Sprintf("workshop %q does not exist or is not open", req.Workshop)})
		case err != nil:
			return err
		}
	}
	return &wod.Error{Code: wod.EINVALID, Message: "the registration is not valid", Fields: fields}
}

// PasswordPlaceholder stands for the student password in stored mails: the
// password itself is put in only when the mail is sent, so the outbox never
// holds it in clear.
const PasswordPlaceholder = "{{wod:password}}"

// compose renders a mail of a registration.
func (e *Engine) compose(ctx context.Context, kind wod.MailKind, r *wod.Registration, w *wod.Workshop, extra func(*mail.Data)) (*wod.Mail, error) {
	return e.composeAt(ctx, kind, r, w, nil, extra)
}

// composeAt renders a mail of a registration at location at, or at the
// location read with the registration, or else read from the store. Inside a store transaction
// (a warm booking's) it must be given: a read there would need a second
// connection while the transaction holds one, and a burst of bookings
// holding every connection of the pool would wait for each other forever.
func (e *Engine) composeAt(ctx context.Context, kind wod.MailKind, r *wod.Registration, w *wod.Workshop, at *wod.Location,
	extra func(*mail.Data)) (*wod.Mail, error) {
	d := mail.Data{Kind: kind, To: r.Email, Name: r.Name, Workshop: w.Slug, Title: w.Title,
		Duration: w.Duration.Std(), ReplayLink: w.ReplayLink, Username: r.Username, Now: e.now()}
	if r.ID != 0 {
		d.StatusURL = e.StatusURL(r.ID)
		d.EndNowURL = e.EndNowURL(r.ID)
	}
	if r.EndsAt != nil {
		d.EndsAt = *r.EndsAt
	}
	if r.Location != "" {
		l, err := registrationLocation(ctx, e.Store, r, at)
		if err != nil {
			return nil, err
		}
		d.LoginURL, d.LaunchURL = l.LoginURL(), l.LaunchURL(r.Username)
	}
	if kind == wod.MailCredentials || kind == wod.MailReminder {
		d.Password = PasswordPlaceholder
	}
	if extra != nil {
		extra(&d)
	}
	subject, text, html, err := e.Composer.Render(d)
	if err != nil {
		return nil, fmt.Errorf("render %s mail: %w", kind, err)
	}
	return &wod.Mail{Kind: kind, To: d.To, Subject: subject, Text: text, HTML: html}, nil
}

// StatusURL is the participant's signed status link.
func (e *Engine) StatusURL(id int64) string {
	return e.PublicURL + "/status/" + e.Keys.StatusToken(id)
}

// NotebooksURL is the participant's signed link to the notebooks they
// left, kept for NotebookRetention after the end.
func (e *Engine) NotebooksURL(id int64) string {
	return e.PublicURL + "/status/" + e.Keys.StatusToken(id) + "/notebooks.zip"
}

// ExtendURL is the participant's signed link to add the workshop's Extend
// to their session (a confirmation page, as for EndNowURL).
func (e *Engine) ExtendURL(id int64) string {
	return e.PublicURL + "/status/" + e.Keys.StatusToken(id) + "/extend"
}

// EndNowURL is the participant's signed link to end the session early.
func (e *Engine) EndNowURL(id int64) string {
	return e.PublicURL + "/status/" + e.Keys.StatusToken(id) + "/end"
}
