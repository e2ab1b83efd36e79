package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// Run fires timers as they fall due until ctx ends. It sleeps until the
// next due timer (never longer than a second, so that timers scheduled by
// another server replica fire on time too) and reads only due rows.
func (e *Engine) Run(ctx context.Context) error {
	for {
		alarm := setAlarm(e.Clock, e.Notified)
		n, err := e.runTimers(ctx)
		e.keepWarmNow(ctx)
		if err != nil && ctx.Err() == nil {
			e.Logger.ErrorContext(ctx, "timers", "error", err)
		}
		if n > 0 {
			continue
		}
		var due time.Time
		if next, ok, err := e.Store.NextJobAt(ctx, timerKinds, nil); err == nil && ok {
			due = next
		}
		if alarm.Wait(ctx, due) != nil {
			return nil
		}
	}
}

// RunDue fires every timer that is due now, keeps the warm pools
// (KeepWarm), and returns how many timers it handled.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	n, err := e.runTimers(ctx)
	if err != nil {
		return n, err
	}
	_, err = e.KeepWarm(ctx)
	return n, err
}

func (e *Engine) runTimers(ctx context.Context) (int, error) {
	total := 0
	if _, err := e.MoveStranded(ctx); err != nil {
		// The timers must fire all the same; the next pass tries again.
		e.Logger.ErrorContext(ctx, "moving stranded creates", "error", err)
	}
	for {
		jobs, more, err := e.Store.ClaimJobs(ctx, timerKinds, nil, e.Worker, timerLease, 50)
		if err != nil {
			return total, err
		}
		for _, j := range jobs {
			e.runTimer(ctx, j)
		}
		total += len(jobs)
		if !more {
			return total, nil
		}
	}
}

// runTimer fires one timer. A failure leaves the job to be retried with
// backoff; a timer that keeps failing alerts the operators.
func (e *Engine) runTimer(ctx context.Context, j *wod.Job) {
	if j.Attempts > j.MaxAttempts {
		e.giveUp(ctx, j, "gave up after "+fmt.Sprint(j.MaxAttempts)+" attempts: "+j.LastError)
		return
	}
	observer(e.Observer).TimerFired(j.Kind, e.now().Sub(j.RunAt))
	err := e.fire(ctx, j)
	if err == nil {
		return
	}
	e.Logger.WarnContext(ctx, "timer failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "error", err)
	e.retry(ctx, j, err.Error(), "")
}

func (e *Engine) fire(ctx context.Context, j *wod.Job) error {
	done := &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts}
	if j.RegistrationID == nil {
		return e.Store.CompleteJob(ctx, done)
	}
	r, err := e.Store.FindRegistration(ctx, *j.RegistrationID)
	if err != nil {
		return err
	}
	now := e.now()
	switch j.Kind {
	case wod.JobWatchdog:
		if r.State != wod.StatePending {
			return e.Store.CompleteJob(ctx, done)
		}
		return e.fail(ctx, r, fmt.Sprintf("not ready within %s", e.ProvisionTimeout), done)
	case wod.JobRemind:
		if r.State != wod.StateReady || r.EndsAt == nil {
			return e.Store.CompleteJob(ctx, done)
		}
		if due := r.EndsAt.Add(-e.RemindBefore); due.After(now.Add(time.Second)) {
			// Extended since the timer was set: fire at the new time.
			return e.Store.SnoozeJob(ctx, j.ID, j.Attempts, due)
		}
		w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
		if err != nil {
			return err
		}
		var mails []*wod.Mail
		if r.RehearsalID == nil {
			by, err := e.SelfExtension(ctx, r)
			if err != nil {
				return err
			}
			m, err := e.compose(ctx, wod.MailReminder, r, w, func(d *mail.Data) {
				if by > 0 {
					d.ExtendURL, d.ExtendBy = e.ExtendURL(r.ID), by
				}
			})
			if err != nil {
				return err
			}
			// One reminder per end time: an extended session is
			// reminded again, a retried step is not.
			m.Key = mailKey(*r.EndsAt)
			mails = append(mails, m)
		}
		err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateReady},
			To: wod.StateExpiring, Mails: mails, Done: done})
		return err
	case wod.JobExpire:
		if !r.State.Running() {
			return e.Store.CompleteJob(ctx, done)
		}
		if r.EndsAt != nil && r.EndsAt.After(now) {
			return e.Store.SnoozeJob(ctx, j.ID, j.Attempts, *r.EndsAt)
		}
		_, err := e.end(ctx, r, "time is up", "system", done)
		return err
	case wod.JobWaitNotice:
		return e.waitNotice(ctx, r, done)
	case wod.JobWaitExpire:
		return e.waitExpire(ctx, r, done)
	case wod.JobGrade:
		if e.Grades == nil || r.State != wod.StateDone || r.Completion == nil {
			return e.Store.CompleteJob(ctx, done)
		}
		gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := e.Grades.ReportGrade(gctx, r); err != nil {
			return err
		}
		return e.Store.CompleteJob(ctx, done)
	}
	return fmt.Errorf("job %d: %s is not a timer", j.ID, j.Kind)
}

// backoff is the wait before attempt n+1 of a failed job: 10 s, 30 s,
// 90 s, … up to 15 minutes.
func backoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < 15*time.Minute; i++ {
		d *= 3
	}
	return min(d, 15*time.Minute)
}

// retry records a failed attempt and schedules the next, or gives up.
func (e *Engine) retry(ctx context.Context, j *wod.Job, msg, output string) {
	if j.Attempts >= j.MaxAttempts {
		if err := e.Store.FailJob(ctx, j.ID, j.Attempts, msg, output, nil); err != nil {
			e.Logger.WarnContext(ctx, "record job failure", "job", j.ID, "error", err)
			return
		}
		e.giveUp(ctx, j, msg)
		return
	}
	at := e.now().Add(backoff(j.Attempts))
	if err := e.Store.FailJob(ctx, j.ID, j.Attempts, msg, output, &at); err != nil {
		e.Logger.WarnContext(ctx, "record job failure", "job", j.ID, "error", err)
	}
}
