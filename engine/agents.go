package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// ClaimJob leases the next due agent job of the location, waiting up to
// wait for one to fall due. It returns nil when none came.
func (e *Engine) ClaimJob(ctx context.Context, locationID int64, agent string, wait time.Duration) (*wod.AgentJob, error) {
	deadline := time.Now().Add(wait)
	token := e.claimToken(locationID)
	lk, looking := e.lookAgain(locationID, lookNew)
	for {
		if looking {
			j, r, w, more, err := e.Store.ClaimAgentJob(ctx, agentKinds, locationID, agent, e.AgentLease)
			if err != nil {
				return nil, err
			}
			e.lookDone(lk, !more)
			if j != nil {
				if more {
					// Another job is due: the next waiting claim takes it.
					signal(token)
				}
				if j.Attempts > j.MaxAttempts {
					// An agent took it and vanished too many times.
					e.giveUp(ctx, j, "no agent reported on it after "+fmt.Sprint(j.MaxAttempts)+" attempts")
					lk, looking = e.lookAgain(locationID, lookWoken)
					continue
				}
				aj, err := e.agentJob(ctx, j, r, w)
				if err != nil || aj != nil {
					return aj, err
				}
				lk, looking = e.lookAgain(locationID, lookWoken)
				continue
			}
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
		// The long-poll's deadline is the agent's wait on the wall clock,
		// not a due time of the engine's clock. A wake-up that comes while
		// the jobs are queried stays in the token.
		woken, err := waitToken(ctx, token, deadline)
		if err != nil {
			return nil, err
		}
		why := lookTimer
		if woken {
			why = lookWoken
		}
		lk, looking = e.lookAgain(locationID, why)
	}
}

// waitToken waits for the token, until the deadline or for maxSleep,
// whichever comes first; it says whether the token came.
func waitToken(ctx context.Context, token chan struct{}, deadline time.Time) (bool, error) {
	t := time.NewTimer(min(maxSleep, max(time.Until(deadline), 0)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-token:
		return true, nil
	case <-t.C:
		return false, nil
	}
}

// agentJob describes a claimed job for the agent, with its registration
// and workshop as the claim read them, or returns nil when the job turned
// out to have nothing left to do.
func (e *Engine) agentJob(ctx context.Context, j *wod.Job, r *wod.Registration, w *wod.Workshop) (*wod.AgentJob, error) {
	aj := &wod.AgentJob{ID: j.ID, Kind: j.Kind, Attempt: j.Attempts, LeaseUntil: *j.LeaseUntil,
		LeaseSeconds: int(e.AgentLease / time.Second)}
	if e.Content != nil && j.Kind != wod.JobPurge {
		// The commits the catalogue was imported from: the agent deploys
		// and runs the hooks of these and no other.
		repos, err := e.Content.FindContentRepos(ctx)
		if err != nil {
			return nil, err
		}
		aj.Content = wod.ContentCommits(repos)
	}
	if j.Kind == wod.JobWarm {
		return e.warmJob(ctx, j, aj)
	}
	if j.RegistrationID == nil {
		return e.seatPurgeJob(ctx, j, aj)
	}
	if r == nil || w == nil {
		return nil, fmt.Errorf("job %d: registration %d not found", j.ID, *j.RegistrationID)
	}
	if why := moot(j.Kind, r); why != "" {
		return nil, e.Store.CompleteJob(ctx, &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts,
			Result: []byte(fmt.Sprintf(`{"skipped":%q}`, why))})
	}
	l := r.At
	aj.RegistrationID, aj.Workshop, aj.SessionType, aj.Reset = r.ID, w.Slug, w.SessionType, w.Reset
	aj.StudentNumber, aj.StudentID, aj.Username = r.StudentNumber, l.StudentID(r.StudentNumber), r.Username
	// The range at the registration's location: per-seat ports count from it.
	aj.Participant, aj.SeatMin, aj.Appliance, aj.Compile, aj.LDAP = r.Name, w.SeatsAt(r.LocationID).Min, w.Appliance, w.Compile, w.LDAP
	aj.Limits = w.Limits
	return aj, nil
}

// moot says why a job has nothing left to do, or "". A job can outlive its
// purpose when its lease ran out and the registration moved on meanwhile
// (an operator purged it, the watchdog failed it).
func moot(kind wod.JobKind, r *wod.Registration) string {
	switch {
	case !r.SeatHeld:
		// Back in the pool, maybe someone else's: never touch it.
		return "the seat is no longer this registration's"
	case kind == wod.JobCreate && r.State != wod.StatePending:
		return "the registration is " + string(r.State) + ", not pending"
	case kind == wod.JobCleanup && r.State != wod.StateEnding:
		return "the registration is " + string(r.State) + ", not ending"
	}
	return ""
}

// HeldSeats lists the location's seats that belong to a registration.
func (e *Engine) HeldSeats(ctx context.Context, locationID int64) ([]int, error) {
	held, err := e.Store.HeldSeats(ctx, locationID)
	if held == nil {
		held = []int{}
	}
	return held, err
}

// WarmSeats lists the location's warm seats.
func (e *Engine) WarmSeats(ctx context.Context, locationID int64) ([]int, error) {
	warm, err := e.Store.WarmSeats(ctx, locationID)
	if warm == nil {
		warm = []int{}
	}
	return warm, err
}

// AgentEvent records what an agent did on its own, for the operators.
func (e *Engine) AgentEvent(ctx context.Context, locationID int64, kind, detail string) error {
	name := fmt.Sprint(locationID)
	if ls, err := e.Store.FindLocations(ctx); err == nil {
		for _, l := range ls {
			if l.ID == locationID {
				name = l.Name
			}
		}
	}
	return e.Store.RecordEvent(ctx, &wod.Event{Actor: "agent@" + name, Kind: kind, Subject: "location:" + name, Detail: detail})
}

// Heartbeat records that the location's agent is alive.
func (e *Engine) Heartbeat(ctx context.Context, locationID int64, hb wod.AgentHeartbeat) error {
	released, err := e.Store.Heartbeat(ctx, locationID, hb.Health, hb.Running, e.Clock.Now().Add(-orphanGrace))
	if err != nil {
		return err
	}
	for _, j := range released {
		e.Logger.WarnContext(ctx, "job released: its agent no longer runs it", "job", j.ID, "kind", j.Kind, "location", locationID)
	}
	if len(released) > 0 {
		e.notify()
	}
	if hb.Kernels != nil {
		return e.Store.SetLocationKernels(ctx, locationID, hb.Kernels)
	}
	return nil
}

// ReportJob applies the result of an agent job. A result for a lease that
// was lost (the job went to another attempt) is refused with ECONFLICT;
// the operation is idempotent, so nothing is lost.
func (e *Engine) ReportJob(ctx context.Context, locationID, jobID int64, agent string, res wod.AgentResult) error {
	j, r, w, err := e.Store.FindJobRegistration(ctx, jobID)
	if err != nil {
		return err
	}
	if j.LocationID == nil || *j.LocationID != locationID || !j.Kind.AgentKind() {
		return wod.Errorf(wod.ENOTFOUND, "job %d is not a job of this location", jobID)
	}
	if j.State != wod.JobRunning || j.Attempts != res.Attempt {
		return wod.Errorf(wod.ECONFLICT, "job %d attempt %d is no longer yours (it is %s, attempt %d)", jobID, res.Attempt, j.State, j.Attempts)
	}
	// What a report schedules (a retry, a reset, a grade) is the
	// location's, or the timer loop's.
	defer e.notifyAt(locationID)
	observer(e.Observer).JobReported(j.Kind, res.OK, time.Duration(res.Seconds*float64(time.Second)))
	if !res.OK {
		e.Logger.WarnContext(ctx, "agent job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "error", res.Error)
		e.retry(ctx, j, res.Error, res.Output)
		return nil
	}
	done := &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts, Result: resultJSON(res), Output: res.Output}
	if j.Kind == wod.JobWarm {
		return e.warmed(ctx, res, done)
	}
	if j.RegistrationID == nil {
		if p, ok := seatPurge(j); ok {
			return e.Store.ReleaseSeat(ctx, p, done)
		}
		return e.Store.CompleteJob(ctx, done)
	}
	if r == nil {
		return fmt.Errorf("job %d: registration %d not found", j.ID, *j.RegistrationID)
	}
	switch j.Kind {
	case wod.JobCreate:
		err = e.ready(ctx, r, w, res, done)
	case wod.JobCleanup:
		err = e.cleaned(ctx, r, w, res, done)
	case wod.JobReset, wod.JobPurge:
		free := wod.SeatFree
		err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{r.State},
			To: r.State, Seat: &free, Done: done,
			Event: &wod.Event{Actor: "agent:" + agent, Kind: "seat." + string(j.Kind), Subject: subject(r), Detail: r.Username}})
	}
	if wod.ErrorCode(err) == wod.ECONFLICT && j.Kind != wod.JobReset && j.Kind != wod.JobPurge {
		// The registration moved on meanwhile (ended, failed): the work is
		// moot, the job is done.
		return e.Store.CompleteJob(ctx, done)
	}
	return err
}

// ready starts the participant's clock and sends the credentials.
func (e *Engine) ready(ctx context.Context, r *wod.Registration, w *wod.Workshop, res wod.AgentResult, done *wod.JobCompletion) error {
	if r.State != wod.StatePending {
		return e.Store.CompleteJob(ctx, done)
	}
	if res.Password == "" {
		return fmt.Errorf("create of registration %d reported no password", r.ID)
	}
	sealed, err := e.Keys.Encrypt(res.Password)
	if err != nil {
		return err
	}
	t, err := e.readyTransition(ctx, r, w, nil)
	if err != nil {
		return err
	}
	t.PasswordEnc, t.Done = sealed, done
	t.Cancel = []wod.JobKind{wod.JobWatchdog}
	now := *t.ReadyAt
	err = e.Store.Apply(ctx, t)
	if err == nil {
		e.Logger.InfoContext(ctx, "registration ready", "registration", r.ID, "seat", r.Username,
			"after", now.Sub(r.CreatedAt).Round(time.Millisecond))
	}
	return err
}

// cleaned finishes a registration: the completion is recorded, the seat is
// freed (or kept dirty for a reset), the goodbye goes out, and a badge when
// this workshop crossed a level.
func (e *Engine) cleaned(ctx context.Context, r *wod.Registration, w *wod.Workshop, res wod.AgentResult, done *wod.JobCompletion) error {
	if r.State != wod.StateEnding {
		return e.Store.CompleteJob(ctx, done)
	}
	if r.RehearsalID != nil {
		return e.cleanedRehearsal(ctx, r, w, res, done)
	}
	finished, had, prior, err := e.Store.BadgeStanding(ctx, r)
	if err != nil {
		return err
	}
	// This registration counts once it is done, unless the address had
	// already finished this workshop before.
	if !prior {
		finished++
	}
	var badge *wod.Badge
	if b := wod.BadgeFor(finished); b != nil && b.Level > had {
		badge = b
	}
	r.Completion = res.Completion
	var notebooks []byte
	if len(res.Notebooks) > 0 && e.NotebookRetention > 0 {
		notebooks = res.Notebooks
	}
	goodbye, err := e.compose(ctx, wod.MailGoodbye, r, w, func(d *mail.Data) {
		d.Completion, d.Badge, d.Finished = res.Completion, badge, finished
		if notebooks != nil {
			d.NotebooksURL, d.NotebooksUntil = e.NotebooksURL(r.ID), e.now().Add(e.NotebookRetention)
		}
	})
	if err != nil {
		return err
	}
	mails := []*wod.Mail{goodbye}
	if badge != nil {
		m, err := e.compose(ctx, wod.MailBadge, r, w, func(d *mail.Data) { d.Badge, d.Finished = badge, finished })
		if err != nil {
			return err
		}
		mails = append(mails, m)
	}
	seat := wod.SeatFree
	var jobs []*wod.Job
	if w.Reset {
		seat = wod.SeatDirty
		jobs = append(jobs, &wod.Job{Kind: wod.JobReset, RunAt: e.now()})
	}
	if e.Grades != nil && res.Completion != nil {
		wants, err := e.Grades.WantsGrade(ctx, r.ID)
		if err != nil {
			return err
		}
		if wants {
			jobs = append(jobs, &wod.Job{Kind: wod.JobGrade, RunAt: e.now()})
		}
	}
	err = e.Store.Apply(ctx, &wod.Transition{
		RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateEnding}, To: wod.StateDone,
		Completion: res.Completion, Seat: &seat, Jobs: jobs, Mails: mails, Badge: badge, Done: done,
		Notebooks: notebooks,
	})
	return err
}

// agentJobListener is a store that hears of the agent jobs other server
// replicas schedule (the PostgreSQL store).
type agentJobListener interface {
	ListenAgentJobs(ctx context.Context, fn func(locationID int64)) error
}

// FollowAgentJobs wakes the agents waiting on this server when another
// replica schedules work at their location, until ctx ends; without it
// they would look only every second. It listens again after a failure.
func (e *Engine) FollowAgentJobs(ctx context.Context) {
	l, ok := e.Store.(agentJobListener)
	if !ok {
		return
	}
	for {
		err := l.ListenAgentJobs(ctx, func(locationID int64) {
			if locationID == 0 {
				e.hearing.Store(true) // listening (again)
			}
			e.WakeClaims(locationID)
		})
		e.hearing.Store(false)
		if err == nil || ctx.Err() != nil {
			return
		}
		e.Logger.WarnContext(ctx, "listening for other replicas' agent jobs; agents wait up to a second meanwhile", "error", err)
		if setAlarm(nil, nil).Wait(ctx, time.Now().Add(5*time.Second)) != nil {
			return
		}
	}
}
