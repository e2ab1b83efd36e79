package wod

import (
	"context"
	"encoding/json"
	"time"
)

// Transition is one atomic step of a registration's life, decided by the
// engine and applied by the store in one transaction: the state change,
// the seat, the jobs and mails it schedules, and the completion of the job
// that caused it. The store refuses it (ECONFLICT) when the registration is
// no longer in one of From: another step got there first.
type Transition struct {
	RegistrationID int64
	From           []RegistrationState
	To             RegistrationState

	// Set when non-nil.
	ReadyAt     *time.Time
	EndsAt      *time.Time
	EndedAt     *time.Time
	PasswordEnc []byte
	Completion  *int
	Error       *string
	// Seat moves the registration's seat: free (released), dirty (kept
	// for a reset) or left alone when nil.
	Seat *SeatState

	// Jobs are scheduled: a job of the same kind for the registration is
	// re-queued with the new time instead of duplicated.
	Jobs []*Job
	// Cancel cancels the registration's queued jobs of these kinds.
	Cancel []JobKind
	// Mails are queued; one of a kind and key already queued or sent
	// stays as is.
	Mails []*Mail
	// SelfExtend marks the participant's one extension: the store refuses
	// the step (ECONFLICT) when they used it already or when someone waits
	// in the workshop's line, checked in the step's transaction.
	SelfExtend bool
	// Badge records a badge level earned by the registration's e-mail.
	Badge *Badge
	// Done completes the job that caused the step, fenced by its attempt.
	Done *JobCompletion
	// Event goes to the audit trail.
	Event *Event
	// Notebooks keeps the participant's work (a zip) for download.
	Notebooks []byte
}

// JobCompletion completes a running job. Attempt fences it: a worker whose lease
// expired and whose job was claimed again cannot complete it.
type JobCompletion struct {
	JobID   int64
	Attempt int
	Result  json.RawMessage
	Output  string
}

// AgentJob is what an agent receives when it claims a job.
type AgentJob struct {
	ID             int64         `json:"id"`
	Kind           JobKind       `json:"kind"`
	Attempt        int           `json:"attempt" doc:"Fences the report: send it back unchanged"`
	LeaseUntil     time.Time     `json:"lease_until" doc:"Report before then, or the job goes to another attempt (the server's clock: agents use lease_seconds)"`
	LeaseSeconds   int           `json:"lease_seconds,omitempty" doc:"How long the lease lasts from the claim: the agent's deadline, on its own clock"`
	RegistrationID int64         `json:"registration_id"`
	Workshop       string        `json:"workshop"`
	SessionType    SessionType   `json:"session_type"`
	Reset          bool          `json:"reset" doc:"The workshop keeps seats dirty for a reset"`
	StudentNumber  int           `json:"student_number"`
	SeatMin        int           `json:"seat_min" doc:"First seat of the workshop's range, for per-seat ports"`
	Appliance      ApplianceMode `json:"appliance,omitempty" doc:"Whether the workshop drives one appliance (mono) or one per seat (multi)"`
	Compile        []string      `json:"compile,omitempty" doc:"Scripts of the content's scripts folder to compile into the student's home"`
	LDAP           bool          `json:"ldap,omitempty" doc:"The student's password goes to the LDAP directory too (the workshop's appliances log in against it)"`
	StudentID      int           `json:"student_id" doc:"Global: location base + number"`
	Username       string        `json:"username"`
	Participant    string        `json:"participant,omitempty"`
	// Limits are the workshop's own; the agent fills the unset ones with
	// its site defaults.
	Limits Limits `json:"limits,omitzero" doc:"The workshop's limits per student; unset ones are the agent's defaults"`
	// Content are the commits of the content repositories the catalogue
	// was imported from: an agent that follows the repositories deploys
	// these and no other.
	Content []ContentCommit `json:"content,omitempty" doc:"The commits of the content repositories the catalogue was imported from: deploy these"`
	// ReportPassword asks a cleanup for the password the seat was locked
	// with, in the result: the original api-db keeps every password of a
	// seat (its backend reports it at CLEANUP). Never set by a wod server,
	// which has no use for it, so it never travels.
	ReportPassword bool `json:"-"`
}

// AgentResult is what an agent reports for a job.
type AgentResult struct {
	Attempt int    `json:"attempt"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty" doc:"Why it failed, for operators"`
	// Password is the student's new password, after create (and after a
	// cleanup that was asked for it: AgentJob.ReportPassword).
	Password string `json:"password,omitempty"`
	// Completion is the percentage of code cells run, after cleanup.
	Completion *int `json:"completion,omitempty" minimum:"0" maximum:"100"`
	// Output is what hooks printed, kept with the job.
	Output string `json:"output,omitempty"`
	// Notebooks, after cleanup, is the workshop's folder from the
	// student's home as a zip, for the participant to download.
	Notebooks []byte `json:"notebooks,omitempty" doc:"After cleanup: the workshop's folder of the student's home, zipped (base64), for the participant to download"`
	// Seconds the operation took.
	Seconds float64 `json:"seconds,omitempty"`
}

// AgentHeartbeat is what an agent says of itself every little while.
type AgentHeartbeat struct {
	// Health describes the host, free text or JSON.
	Health string `json:"health,omitempty" maxLength:"10000" doc:"The host's health, free text or JSON"`
	// Running lists the jobs the agent is working on (or reporting). Nil
	// (an agent from before this field) releases nothing; empty releases
	// every job the location's agent holds.
	Running []int64 `json:"running" required:"false" maxItems:"1000" doc:"IDs of the jobs the agent is running or reporting; the location's other leased jobs are released. Omit it and none is."`
	// Kernels are the Jupyter kernels the hub's servers find on the host
	// (kernelspec names). Nil (an agent from before this field) leaves the
	// location's list as it was.
	Kernels []string `json:"kernels,omitempty" required:"false" maxItems:"1000" doc:"Names of the Jupyter kernels installed on the hub's host; omit it and the location's list is kept."`
}

// AgentService is the server's side of the agent protocol. Agents reach it
// over HTTP (one bearer token per location); wod up's agent calls it
// in-process.
type AgentService interface {
	// ClaimJob leases the next due agent job of the location, waiting up to
	// wait for one; nil when none came.
	ClaimJob(ctx context.Context, locationID int64, agent string, wait time.Duration) (*AgentJob, error)
	// ReportJob applies a job's result. ECONFLICT when the lease was lost.
	ReportJob(ctx context.Context, locationID, jobID int64, agent string, res AgentResult) error
	// Heartbeat records that the location's agent is alive, and its health;
	// the location's jobs the agent does not say it runs (a claim whose
	// answer was lost, an agent restarted mid-operation) are released so
	// that they run again now rather than when their lease ends.
	Heartbeat(ctx context.Context, locationID int64, hb AgentHeartbeat) error
	// HeldSeats lists the student numbers of the location that belong to a
	// registration (assigned or dirty): the process guard spares only them.
	HeldSeats(ctx context.Context, locationID int64) ([]int, error)
	// WarmSeats lists the student numbers of the location kept warm for a
	// workshop's pool (WarmPool) and not yet taken: the agent keeps their
	// servers running.
	WarmSeats(ctx context.Context, locationID int64) ([]int, error)
	// AgentEvent records something the agent did on its own (a guard kill).
	AgentEvent(ctx context.Context, locationID int64, kind, detail string) error
	// ReportChecks records a run of the host checks on the location (wod
	// check, every --check-every); a new failure alerts the operators.
	ReportChecks(ctx context.Context, locationID int64, results []CheckResult) error
}
