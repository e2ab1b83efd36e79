package wod

import (
	"context"
	"encoding/json"
	"time"
)

// JobKind names what a job does. Agent operations run on a location's agent;
// timers run in the server's lifecycle engine.
type JobKind string

// Job kinds.
const (
	JobCreate  JobKind = "create"  // agent: prepare the seat for the participant
	JobCleanup JobKind = "cleanup" // agent: measure, wipe (or keep dirty for reset)
	JobReset   JobKind = "reset"   // agent: reset appliances and dirty seats
	JobPurge   JobKind = "purge"   // agent: take a failed seat back
	JobWarm    JobKind = "warm"    // agent: prepare a free seat for a workshop's warm pool (no registration)

	JobRemind   JobKind = "remind"   // timer: reminder mail before the end
	JobExpire   JobKind = "expire"   // timer: the end of the session
	JobWatchdog JobKind = "watchdog" // timer: not ready within the provision timeout
	JobGrade    JobKind = "grade"    // server: report the completion to the learning platform's grade book
	// JobWaitNotice tells a participant who joined the waiting line where
	// they stand (the mail needs the registration's id, known only once it
	// is inserted, so it is composed by a timer due at once).
	JobWaitNotice JobKind = "wait-notice"
	// JobWaitExpire ends a wait that lasted --wait-max, or that of a
	// workshop that closed (the store makes it due at once then).
	JobWaitExpire JobKind = "wait-expire"
)

// AgentKind reports whether the kind runs on an agent.
func (k JobKind) AgentKind() bool {
	switch k {
	case JobCreate, JobCleanup, JobReset, JobPurge, JobWarm:
		return true
	}
	return false
}

// JobState is where a job stands.
type JobState string

// Job states.
const (
	JobQueued    JobState = "queued"  // waiting for RunAt
	JobRunning   JobState = "running" // leased by a worker until LeaseUntil
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"    // gave up after MaxAttempts; operators alerted
	JobCancelled JobState = "cancelled" // made moot by another transition
)

// Job is a durable unit of work with a due time.
type Job struct {
	ID             int64      `json:"id"`
	Kind           JobKind    `json:"kind"`
	RegistrationID *int64     `json:"registration_id,omitempty"`
	LocationID     *int64     `json:"location_id,omitempty"`
	State          JobState   `json:"state"`
	RunAt          time.Time  `json:"run_at"`
	Attempts       int        `json:"attempts"`
	MaxAttempts    int        `json:"max_attempts"`
	LeaseUntil     *time.Time `json:"lease_until,omitempty"`
	LeasedBy       string     `json:"leased_by,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	// Args and Result are the operation's input and output, as JSON.
	Args   json.RawMessage `json:"args,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	// Output keeps what hooks printed, for operators.
	Output    string    `json:"output,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DismissedAt is when an operator marked the failed job as dealt with.
	DismissedAt *time.Time `json:"dismissed_at,omitempty"`
}

// DefaultMaxAttempts is how often a job is tried before operators are told.
const DefaultMaxAttempts = 5

// JobFilter narrows a job listing.
type JobFilter struct {
	State          *JobState
	Kind           *JobKind
	RegistrationID *int64
	Page
}

// JobService reads jobs. The engine owns their transitions; operators
// only dismiss the failures they have dealt with.
type JobService interface {
	FindJobs(ctx context.Context, filter JobFilter) ([]*Job, int, error)
	// DismissJobs marks a failed job (or, with id 0, every failed job) as
	// dealt with, and returns how many it dismissed.
	DismissJobs(ctx context.Context, id int64) (int, error)
	// RetryJob queues a failed job again, due now, with its attempts
	// reset (once the cause is fixed: the hub is back, the disk has room).
	// A job whose purpose has passed meanwhile does nothing when it runs.
	RetryJob(ctx context.Context, id int64) (*Job, error)
}
