package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// The waiting line, the engine's side: joining it (Register with Wait),
// leaving it, and its two timers. The handover of a freed seat is the
// store's, inside the transaction that frees it.

func (e *Engine) waitMax() time.Duration {
	if e.WaitMax > 0 {
		return e.WaitMax
	}
	return wod.DefaultWaitMax
}

// waitPlan is what joining the line schedules: the waiting mail, composed
// by a timer due at once because it needs the registration's id (its
// status link), and the end of the wait.
func (e *Engine) waitPlan(now time.Time) *wod.WaitPlan {
	return &wod.WaitPlan{
		ProvisionTimeout: e.ProvisionTimeout,
		Jobs: []*wod.Job{
			{Kind: wod.JobWaitNotice, RunAt: now},
			{Kind: wod.JobWaitExpire, RunAt: now.Add(e.waitMax())},
		},
	}
}

// LeaveLine takes a waiting registration out of the line: the
// participant's click on their status page, or an operator's.
func (e *Engine) LeaveLine(ctx context.Context, id int64, actor string) (*wod.Registration, error) {
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State != wod.StateWaiting {
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d is %s; only a waiting registration can leave the line", id, r.State)
	}
	now := e.now()
	reason := "left the waiting line"
	r, err = e.Store.Transition(ctx, &wod.Transition{RegistrationID: id,
		From: []wod.RegistrationState{wod.StateWaiting}, To: wod.StateLeft, EndedAt: &now, Error: &reason,
		Cancel: []wod.JobKind{wod.JobWaitNotice, wod.JobWaitExpire},
		Event:  &wod.Event{Actor: actor, Kind: "registration.leave_line", Subject: subject(r)}})
	if err != nil {
		return nil, err
	}
	e.Logger.InfoContext(ctx, "registration left the waiting line", "registration", id, "by", actor)
	return r, nil
}

// waitNotice sends the waiting mail: the place in line, the estimate and
// the status link (where the participant follows the line and can leave
// it). A waiter who got a seat meanwhile gets the credentials instead.
func (e *Engine) waitNotice(ctx context.Context, r *wod.Registration, done *wod.JobCompletion) error {
	if r.State != wod.StateWaiting {
		return e.Store.CompleteJob(ctx, done)
	}
	w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
	if err != nil {
		return err
	}
	at, ok, err := e.Store.WaitEstimate(ctx, r)
	if err != nil {
		return err
	}
	wait := e.waitMax()
	if r.WaitingSince != nil {
		// A workshop closing sooner ends the wait sooner (wod.WaitDeadline).
		wait = wod.WaitDeadline(r.WaitingSince.Add(wait), w.Closes).Sub(*r.WaitingSince)
	}
	m, err := e.compose(ctx, wod.MailWaiting, r, w, func(d *mail.Data) {
		d.Place, d.WaitMax = r.Place, wait
		if ok {
			d.EstimatedAt = at
		}
	})
	if err != nil {
		return err
	}
	err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID,
		From: []wod.RegistrationState{wod.StateWaiting}, To: wod.StateWaiting, Mails: []*wod.Mail{m}, Done: done})
	if wod.ErrorCode(err) == wod.ECONFLICT {
		return e.Store.CompleteJob(ctx, done) // seated meanwhile
	}
	return err
}

// waitExpire ends a wait that lasted WaitMax, or the wait for a workshop
// that no longer takes participants (inactive, or past its closing time),
// with the wait-expired mail.
func (e *Engine) waitExpire(ctx context.Context, r *wod.Registration, done *wod.JobCompletion) error {
	if r.State != wod.StateWaiting {
		return e.Store.CompleteJob(ctx, done)
	}
	w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
	if err != nil {
		return err
	}
	now := e.now()
	reason := fmt.Sprintf("waited %s without a seat coming free", e.waitMax())
	closed := !w.Active || w.Closed(now)
	switch {
	case !w.Active:
		reason = "the workshop closed while waiting"
	case w.Closed(now):
		reason = "the workshop closed for registration at " + wod.FormatWorkshopDate(w.Closes) + " while waiting"
	case r.WaitingSince != nil:
		if due := wod.WaitDeadline(r.WaitingSince.Add(e.waitMax()), w.Closes); due.After(now.Add(time.Second)) {
			// Made due early by a workshop that closed and opened again,
			// or whose closing time moved later or was removed.
			return e.Store.SnoozeJob(ctx, done.JobID, done.Attempt, due)
		}
	}
	m, err := e.compose(ctx, wod.MailWaitExpired, r, w, func(d *mail.Data) {
		d.WaitMax, d.WorkshopClosed = e.waitMax(), closed
	})
	if err != nil {
		return err
	}
	err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID,
		From: []wod.RegistrationState{wod.StateWaiting}, To: wod.StateLeft, EndedAt: &now, Error: &reason,
		Cancel: []wod.JobKind{wod.JobWaitNotice}, Mails: []*wod.Mail{m}, Done: done,
		Event: &wod.Event{Actor: "system", Kind: "registration.wait_expired", Subject: subject(r), Detail: reason}})
	if wod.ErrorCode(err) == wod.ECONFLICT {
		return e.Store.CompleteJob(ctx, done) // seated or gone meanwhile
	}
	if err == nil {
		e.Logger.InfoContext(ctx, "wait ended without a seat", "registration", r.ID, "reason", reason)
	}
	return err
}
