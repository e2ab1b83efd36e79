// Package agent is the agent of a location (a JupyterHub host): it claims
// jobs from the server, runs them with an Operator and reports the results.
// It reaches the server over HTTP with the location's bearer token, or, in
// wod up, in-process through the same interface.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// Operator performs the operations on the host. Every operation must be
// idempotent: a job whose report was lost runs again.
type Operator interface {
	Run(ctx context.Context, job *wod.AgentJob) (Outcome, error)
}

// Outcome is what an operation produced.
type Outcome struct {
	// Password is the student's new password (create).
	Password string
	// Completion is the share of code cells run, in percent (cleanup).
	Completion *int
	// Output is what hooks printed, kept with the job for operators.
	Output string
	// Notebooks is the student's workshop folder, zipped (cleanup).
	Notebooks []byte
}

// A BackgroundOperator has work that outlives the job that asked for it
// (HubOperator's pre-starts of the students' servers). The Runner runs
// RunBackground beside its workers, on its own context, and waits for it
// before its Run returns: nothing the agent started survives its shutdown.
type BackgroundOperator interface {
	Operator
	// RunBackground does the background work until ctx ends, and returns
	// once all of it has stopped. It runs once at a time.
	RunBackground(ctx context.Context)
}

// Server is the agent's view of the server.
type Server interface {
	Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error)
	Report(ctx context.Context, jobID int64, res wod.AgentResult) error
	Heartbeat(ctx context.Context, hb wod.AgentHeartbeat) error
}

// Runner claims and runs jobs until its context ends.
type Runner struct {
	Server   Server
	Operator Operator
	Logger   *slog.Logger
	// Workers is how many jobs run at once (default 4).
	Workers int
	// Health describes the host for the heartbeat (may be nil).
	Health func(ctx context.Context) string
	// Kernels lists the Jupyter kernels of the hub's host for the
	// heartbeat (nil: not reported).
	Kernels func() []string
	// HeartbeatEvery defaults to 30 s.
	HeartbeatEvery time.Duration
	// ClaimWait is the long-poll of a claim (default 25 s).
	ClaimWait time.Duration

	mu      sync.Mutex
	running map[int64]bool // jobs being run or reported, for the heartbeat
}

// Run works until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	workers := r.Workers
	if workers <= 0 {
		workers = 4
	}
	var wg sync.WaitGroup
	if b, ok := r.Operator.(BackgroundOperator); ok {
		wg.Go(func() { b.RunBackground(ctx) })
	}
	wg.Go(func() { r.heartbeats(ctx) })
	for range workers {
		wg.Go(func() { r.work(ctx) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) heartbeats(ctx context.Context) {
	every := r.HeartbeatEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	for {
		health := ""
		if r.Health != nil {
			health = r.Health(ctx)
		}
		hb := wod.AgentHeartbeat{Health: health, Running: r.runningJobs()}
		if r.Kernels != nil {
			hb.Kernels = r.Kernels()
			if hb.Kernels == nil {
				hb.Kernels = []string{} // reported: none
			}
		}
		if err := r.Server.Heartbeat(ctx, hb); err != nil && ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "heartbeat", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (r *Runner) runningJobs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int64, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	return ids
}

// hold marks a job as the agent's until the returned release is called.
func (r *Runner) hold(id int64) (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[int64]bool{}
	}
	r.running[id] = true
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.running, id)
	}
}

func (r *Runner) work(ctx context.Context) {
	wait := r.ClaimWait
	if wait <= 0 {
		wait = 25 * time.Second
	}
	failures := 0
	for ctx.Err() == nil {
		job, err := r.Server.Claim(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			pause := min(time.Duration(failures)*time.Second, 30*time.Second)
			r.Logger.WarnContext(ctx, "claim", "error", err, "retry_in", pause)
			sleep(ctx, pause)
			continue
		}
		failures = 0
		if job != nil {
			r.runJob(ctx, job, leaseDeadline(job, time.Now()))
		}
	}
}

// leaseDeadline is when the agent must have reported the job, on the
// agent's own clock: the lease's duration from when the claim answered,
// less a margin for the report. The server's lease_until is on the
// server's clock; a hub host a few minutes ahead of it would start every
// job already expired. Servers from before lease_seconds send only that.
func leaseDeadline(job *wod.AgentJob, claimed time.Time) time.Time {
	const margin = 5 * time.Second
	if job.LeaseSeconds > 0 {
		return claimed.Add(time.Duration(job.LeaseSeconds)*time.Second - margin)
	}
	return job.LeaseUntil.Add(-margin)
}

// runJob runs one job until deadline (see leaseDeadline) and reports the
// result, retrying the report while the server is unreachable and the
// lease lasts.
func (r *Runner) runJob(ctx context.Context, job *wod.AgentJob, deadline time.Time) {
	defer r.hold(job.ID)()
	log := r.Logger.With("job", job.ID, "kind", job.Kind, "seat", job.Username, "registration", job.RegistrationID)
	opCtx, cancel := context.WithDeadline(ctx, deadline)
	start := time.Now()
	out, err := r.Operator.Run(opCtx, job)
	cancel()
	res := wod.AgentResult{Attempt: job.Attempt, OK: err == nil, Password: out.Password, Completion: out.Completion,
		Notebooks: out.Notebooks, Output: out.Output, Seconds: time.Since(start).Seconds()}
	if err != nil {
		res.Error = err.Error()
		log.WarnContext(ctx, "job failed", "error", err, "seconds", res.Seconds)
	} else {
		log.InfoContext(ctx, "job done", "seconds", res.Seconds)
	}
	for attempt := 1; ; attempt++ {
		err := r.Server.Report(ctx, job.ID, res)
		if err == nil || wod.ErrorCode(err) == wod.ECONFLICT || wod.ErrorCode(err) == wod.ENOTFOUND {
			if err != nil {
				log.WarnContext(ctx, "report refused", "error", err)
			}
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			log.ErrorContext(ctx, "report lost; the job will run again", "error", err)
			return
		}
		sleep(ctx, min(time.Duration(attempt)*time.Second, 10*time.Second))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Local reaches an in-process server (wod up) through its AgentService.
type Local struct {
	Service wod.AgentService
	// Banners, if set, gives the announcements for the hub's pages.
	Banners    wod.AnnouncementService
	LocationID int64
	Name       string
}

// Claim implements Server.
func (l *Local) Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error) {
	j, err := l.Service.ClaimJob(ctx, l.LocationID, l.Name, wait)
	if errors.Is(err, context.Canceled) {
		return nil, err
	}
	return j, err
}

// Report implements Server.
func (l *Local) Report(ctx context.Context, jobID int64, res wod.AgentResult) error {
	return l.Service.ReportJob(ctx, l.LocationID, jobID, l.Name, res)
}

// Heartbeat implements Server.
func (l *Local) Heartbeat(ctx context.Context, hb wod.AgentHeartbeat) error {
	return l.Service.Heartbeat(ctx, l.LocationID, hb)
}

// HeldSeats implements GuardServer.
func (l *Local) HeldSeats(ctx context.Context) ([]int, error) {
	return l.Service.HeldSeats(ctx, l.LocationID)
}

// WarmSeats implements WarmSource.
func (l *Local) WarmSeats(ctx context.Context) ([]int, error) {
	return l.Service.WarmSeats(ctx, l.LocationID)
}

// Event implements GuardServer.
// Announcements implements BannerSource.
func (l *Local) Announcements(ctx context.Context) ([]*wod.Announcement, error) {
	if l.Banners == nil {
		return nil, nil
	}
	now := time.Now()
	return l.Banners.FindAnnouncements(ctx, &now)
}

func (l *Local) Event(ctx context.Context, kind, detail string) error {
	return l.Service.AgentEvent(ctx, l.LocationID, kind, detail)
}

// ReportChecks implements CheckReporter.
func (l *Local) ReportChecks(ctx context.Context, results []wod.CheckResult) error {
	return l.Service.ReportChecks(ctx, l.LocationID, results)
}

// CheckReporter takes the results of the host checks an agent runs every
// --check-every to its server.
type CheckReporter interface {
	ReportChecks(ctx context.Context, results []wod.CheckResult) error
}

// ErrUnsupported is returned by an Operator for a job kind it cannot run.
var ErrUnsupported = errors.New("operation not supported by this agent")

// Unsupported wraps ErrUnsupported with the kind.
func Unsupported(kind wod.JobKind) error { return fmt.Errorf("%s: %w", kind, ErrUnsupported) }
