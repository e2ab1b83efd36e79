package wod

import (
	"context"
	"time"
)

// Dashboard is the operators' overview of the platform right now.
type Dashboard struct {
	// ByState counts registrations by state; the finished states (done,
	// failed) count only the last 24 hours.
	ByState map[RegistrationState]int
	// Workshops are the seats of each workshop, free and taken.
	Workshops []WorkshopLoad
	// Locations carry their agents' last heartbeat and health.
	Locations []*Location
	// FailingJobs are jobs that failed for good, or are being retried, the
	// latest first; FailingJobsTotal counts them all when the list is cut.
	FailingJobs      []*Job
	FailingJobsTotal int
	// GuardEvents are the process guard's latest kills.
	GuardEvents []*Event
}

// WorkshopLoad is how a workshop's seats are used.
type WorkshopLoad struct {
	Slug     string `json:"slug"`
	Title    string `json:"title"`
	Location string `json:"location"`
	Active   bool   `json:"active"`
	Capacity int    `json:"capacity"`
	// Free is how many more registrations the workshop can take now.
	Free int `json:"free"`
	// Taken seats belong to a live or ending registration; Dirty ones wait
	// for a reset.
	Taken int `json:"taken"`
	Dirty int `json:"dirty"`
	// Warm seats are prepared for the workshop's next participants (they
	// count in Free); Warming ones are being prepared (WarmPool).
	Warm    int      `json:"warm"`
	Warming int      `json:"warming"`
	Pool    WarmPool `json:"pool"`
}

// WorkshopStats is what participants made of a workshop over a period.
type WorkshopStats struct {
	Slug          string `json:"slug"`
	Title         string `json:"title"`
	Registrations int    `json:"registrations"`
	Finished      int    `json:"finished"`
	Failed        int    `json:"failed"`
	// AverageCompletion over the finished registrations, nil if none.
	AverageCompletion *float64 `json:"average_completion,omitempty"`
	// Completion[i] counts finished registrations whose completion % lies
	// in [10i, 10i+10); the last bucket includes 100.
	Completion [10]int `json:"completion"`
}

// DayCount is how many registrations were made on one (UTC) day.
type DayCount struct {
	Day           time.Time `json:"day"`
	Registrations int       `json:"registrations"`
}

// Gauges are the platform's counts right now, for monitoring (/metrics):
// cheap aggregates, read on every scrape.
type Gauges struct {
	// Registrations counts every registration by state, history included.
	Registrations map[RegistrationState]int
	// Seats counts each location's seats by state.
	Seats []SeatCount
	// Workshops are the seats of each workshop, free and taken.
	Workshops []WorkshopLoad
	// Jobs counts the jobs not finished (queued, running) and those that
	// failed for good, by kind.
	Jobs []JobCount
	// Mails counts the outbox by state.
	Mails map[MailState]int
	// OldestDueJob and OldestDueMail are when the oldest queued job and mail
	// that are due now were due (nil when nothing waits): a backlog.
	OldestDueJob, OldestDueMail *time.Time
	// Locations carry their agents' last heartbeat and health.
	Locations []*Location
}

// SeatCount is how many seats of a location are in a state.
type SeatCount struct {
	Location string
	State    SeatState
	Count    int
}

// JobCount is how many jobs of a kind are in a state.
type JobCount struct {
	Kind  JobKind
	State JobState
	Count int
}

// StatsService answers the operators' aggregate questions without loading
// every registration.
type StatsService interface {
	Dashboard(ctx context.Context) (*Dashboard, error)
	// Gauges reads the monitoring counts in one consistent snapshot.
	Gauges(ctx context.Context) (*Gauges, error)
	// WorkshopStats covers registrations made since the time.
	WorkshopStats(ctx context.Context, since time.Time) ([]WorkshopStats, error)
	// RegistrationsPerDay counts registrations per UTC day since the time,
	// for one workshop or (nil) all: one entry for every day from the day
	// of since to today, the days without registrations included.
	RegistrationsPerDay(ctx context.Context, since time.Time, workshop *string) ([]DayCount, error)
}
