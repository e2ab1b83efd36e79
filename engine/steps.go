package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// end moves a registration to ending and schedules the cleanup: the clock
// ran out, the participant pressed "end now", or an operator ended it. It
// returns r as the step left it (its state, end and update times), without
// reading it back.
func (e *Engine) end(ctx context.Context, r *wod.Registration, reason, actor string, done *wod.JobCompletion) (*wod.Registration, error) {
	now := e.now()
	err := e.Store.Apply(ctx, &wod.Transition{
		RegistrationID: r.ID,
		From:           wod.EndableStates,
		To:             wod.StateEnding,
		EndedAt:        &now,
		Cancel:         []wod.JobKind{wod.JobCreate, wod.JobRemind, wod.JobExpire, wod.JobWatchdog},
		Jobs:           []*wod.Job{{Kind: wod.JobCleanup, RunAt: now}},
		Done:           done,
		Event:          &wod.Event{Actor: actor, Kind: "registration.end", Subject: subject(r), Detail: reason},
	})
	if err != nil {
		return nil, err
	}
	e.notifyAt(r.LocationID)
	ended := *r
	ended.State, ended.EndedAt, ended.UpdatedAt = wod.StateEnding, &now, now
	return &ended, nil
}

// fail gives up on a registration that could not be prepared: its seat is
// purged, the participant gets the apology and the operators an alert.
func (e *Engine) fail(ctx context.Context, r *wod.Registration, reason string, done *wod.JobCompletion) error {
	w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
	if err != nil {
		return err
	}
	var mails []*wod.Mail
	if r.RehearsalID == nil {
		apology, err := e.compose(ctx, wod.MailApology, r, w, nil)
		if err != nil {
			return err
		}
		mails = append(mails, apology)
	}
	told := "the participant has received an apology"
	if r.RehearsalID != nil {
		told = fmt.Sprintf("it was the seat of rehearsal %d", *r.RehearsalID)
	}
	alert, err := e.alert(ctx, r, fmt.Sprintf("Registration %d (%s) for %s failed: %s.\nIts seat %s at %s is being purged and %s.",
		r.ID, r.Email, r.Workshop, reason, r.Username, r.Location, told))
	if err != nil {
		return err
	}
	if alert != nil {
		mails = append(mails, alert)
	}
	now := e.now()
	err = e.Store.Apply(ctx, &wod.Transition{
		RegistrationID: r.ID,
		From:           []wod.RegistrationState{wod.StatePending},
		To:             wod.StateFailed,
		EndedAt:        &now,
		Error:          &reason,
		Cancel:         []wod.JobKind{wod.JobCreate, wod.JobRemind, wod.JobExpire, wod.JobWatchdog},
		Jobs:           []*wod.Job{{Kind: wod.JobPurge, RunAt: now}},
		Mails:          mails,
		Done:           done,
		Event:          &wod.Event{Actor: "system", Kind: "registration.failed", Subject: subject(r), Detail: reason},
	})
	if err == nil {
		e.notify()
	}
	return err
}

// alert composes an operator alert about a registration, or nil when no
// operator has an address to send it to (the event stays in the audit
// trail either way).
func (e *Engine) alert(ctx context.Context, r *wod.Registration, text string) (*wod.Mail, error) {
	to, err := e.alertRecipients(ctx)
	if err != nil || to == "" {
		return nil, err
	}
	w := &wod.Workshop{Slug: r.Workshop}
	return e.compose(ctx, wod.MailAlert, r, w, func(d *mail.Data) {
		d.To, d.Name, d.Alert = to, "operators", text
	})
}

func (e *Engine) alertRecipients(ctx context.Context) (string, error) {
	to := e.AlertTo
	if len(to) == 0 {
		us, err := e.Store.FindUsers(ctx)
		if err != nil {
			return "", err
		}
		for _, u := range us {
			if u.Role == wod.RoleAdmin && !u.Disabled && u.Email != "" {
				to = append(to, u.Email)
			}
		}
	}
	out := ""
	for i, a := range to {
		if i > 0 {
			out += ", "
		}
		out += a
	}
	return out, nil
}

// giveUp handles a job that failed for good.
func (e *Engine) giveUp(ctx context.Context, j *wod.Job, msg string) {
	e.Logger.ErrorContext(ctx, "job failed for good", "job", j.ID, "kind", j.Kind, "error", msg)
	subj := fmt.Sprintf("job:%d", j.ID)
	if err := e.Store.RecordEvent(ctx, &wod.Event{Actor: "system", Kind: "job.failed", Subject: subj,
		Detail: fmt.Sprintf("%s failed after %d attempts: %s", j.Kind, j.Attempts, msg)}); err != nil {
		e.Logger.ErrorContext(ctx, "record event", "error", err)
	}
	if j.State == wod.JobRunning {
		// A job whose lease ran out too often: close it first (a job of no
		// registration too: a warm job left running would be claimed again
		// forever, and its seat never reclaimed).
		if err := e.Store.FailJob(ctx, j.ID, j.Attempts, msg, "", nil); err != nil {
			e.Logger.WarnContext(ctx, "close exhausted job", "job", j.ID, "error", err)
		}
	}
	if j.RegistrationID == nil {
		return
	}
	r, err := e.Store.FindRegistration(ctx, *j.RegistrationID)
	if err != nil {
		e.Logger.ErrorContext(ctx, "give up", "job", j.ID, "error", err)
		return
	}
	switch j.Kind {
	case wod.JobCreate, wod.JobWatchdog:
		if r.State == wod.StatePending {
			err = e.fail(ctx, r, fmt.Sprintf("%s failed: %s", j.Kind, msg), nil)
		}
	case wod.JobCleanup:
		// The session is over whatever happened: finish the registration,
		// keep the seat out of the pool and have it purged.
		if r.State == wod.StateEnding {
			reason := "cleanup failed: " + msg
			dirty := wod.SeatDirty
			var alert *wod.Mail
			alert, err = e.alert(ctx, r, fmt.Sprintf("Cleanup of registration %d (%s) at seat %s failed for good: %s.\nThe seat is kept out of the pool and a purge is scheduled.", r.ID, r.Workshop, r.Username, msg))
			if err == nil {
				t := &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateEnding}, To: wod.StateDone,
					Error: &reason, Seat: &dirty, Jobs: []*wod.Job{{Kind: wod.JobPurge, RunAt: e.now()}}}
				if alert != nil {
					t.Mails = []*wod.Mail{alert}
				}
				err = e.Store.Apply(ctx, t)
			}
		}
	case wod.JobGrade:
		var alert *wod.Mail
		alert, err = e.alert(ctx, r, fmt.Sprintf("The completion of registration %d (%s, %s) could not be posted to its learning platform's grade book: %s.",
			r.ID, r.Workshop, r.Email, msg))
		if err == nil && alert != nil {
			err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{r.State},
				To: r.State, Mails: []*wod.Mail{alert}})
		}
	default:
		var alert *wod.Mail
		alert, err = e.alert(ctx, r, fmt.Sprintf("%s of seat %s (registration %d, %s) failed for good: %s.\nThe seat stays out of the pool; purge the registration from the admin UI to try again.",
			j.Kind, r.Username, r.ID, r.Workshop, msg))
		if err == nil && alert != nil {
			err = e.Store.Apply(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{r.State},
				To: r.State, Mails: []*wod.Mail{alert}})
		}
	}
	if err != nil {
		e.Logger.ErrorContext(ctx, "give up", "job", j.ID, "error", err)
	}
}

func subject(r *wod.Registration) string { return fmt.Sprintf("registration:%d", r.ID) }

func resultJSON(res wod.AgentResult) json.RawMessage {
	out := map[string]any{"seconds": res.Seconds}
	if res.Completion != nil {
		out["completion"] = *res.Completion
	}
	if len(res.Notebooks) > 0 {
		out["notebooks_bytes"] = len(res.Notebooks)
	}
	b, _ := json.Marshal(out)
	return b
}
