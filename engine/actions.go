package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// MaxExtension bounds one extension of a registration.
const MaxExtension = wod.MaxExtension

// EndNow ends a live registration early: the participant's "end now" or
// an operator's action.
func (e *Engine) EndNow(ctx context.Context, id int64, actor string) (*wod.Registration, error) {
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State == wod.StateWaiting {
		return e.LeaveLine(ctx, id, actor)
	}
	if !r.State.Live() {
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d is %s; only a live registration can be ended", id, r.State)
	}
	return e.end(ctx, r, "ended early by "+actor, actor, nil)
}

// Extend gives a running registration more time, moving its reminder and
// its end: an operator's action, of which the participant is told by mail.
func (e *Engine) Extend(ctx context.Context, id int64, by time.Duration, actor string) (*wod.Registration, error) {
	if by <= 0 || by > MaxExtension {
		return nil, &wod.Error{Code: wod.EINVALID, Message: "the extension is not valid",
			Fields: []wod.FieldError{{Field: "by", Message: fmt.Sprintf("must be positive and at most %s", MaxExtension)}}}
	}
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.extend(ctx, r, by, actor, false)
}

// ExtendSelf adds the workshop's Extend to a running registration at its
// participant's request: once, while nobody waits for a seat of the
// workshop (the store checks both in the step's transaction).
func (e *Engine) ExtendSelf(ctx context.Context, id int64) (*wod.Registration, error) {
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
	if err != nil {
		return nil, err
	}
	switch {
	case w.Extend <= 0:
		return nil, wod.Errorf(wod.ECONFLICT, "workshop %s does not let participants add time", w.Slug)
	case r.RehearsalID != nil:
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d is a rehearsal's", id)
	case r.SelfExtended:
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d was extended by its participant already: once is all", id)
	}
	return e.extend(ctx, r, w.Extend.Std(), "participant", true)
}

// SelfExtension is how much time the participant of r may add now: the
// workshop's Extend while r runs, was not extended by them yet and nobody
// waits for a seat; 0 otherwise.
func (e *Engine) SelfExtension(ctx context.Context, r *wod.Registration) (time.Duration, error) {
	if !r.State.Running() || r.EndsAt == nil || r.SelfExtended || r.RehearsalID != nil {
		return 0, nil
	}
	w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
	if err != nil || w.Extend <= 0 {
		return 0, err
	}
	waiting := wod.StateWaiting
	_, n, err := e.Store.FindRegistrations(ctx, wod.RegistrationFilter{State: &waiting, Workshop: &w.Slug,
		Page: wod.Page{Limit: 1}})
	if err != nil || n > 0 {
		return 0, err
	}
	return w.Extend.Std(), nil
}

// extend moves a running registration's end by by. The registration goes
// back to ready with a reminder timer before the new end (at once when
// that is already past): every extension is followed by a new reminder,
// which the outbox keeps once per end time. An operator's extension is
// also told to the participant.
func (e *Engine) extend(ctx context.Context, r *wod.Registration, by time.Duration, actor string, self bool) (*wod.Registration, error) {
	if !r.State.Running() || r.EndsAt == nil {
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d is %s; only a running session can be extended", r.ID, r.State)
	}
	now := e.now()
	ends := r.EndsAt.Add(by)
	remind := ends.Add(-e.RemindBefore)
	if remind.Before(now) {
		remind = now
	}
	t := &wod.Transition{RegistrationID: r.ID, From: wod.RunningStates, To: wod.StateReady, EndsAt: &ends,
		Jobs:       []*wod.Job{{Kind: wod.JobExpire, RunAt: ends}, {Kind: wod.JobRemind, RunAt: remind}},
		SelfExtend: self,
		Event:      &wod.Event{Actor: actor, Kind: "registration.extend", Subject: subject(r), Detail: "by " + by.String()}}
	if !self && r.RehearsalID == nil {
		w, err := e.Store.FindWorkshopSettings(ctx, r.Workshop)
		if err != nil {
			return nil, err
		}
		next := *r
		next.EndsAt = &ends
		m, err := e.compose(ctx, wod.MailExtended, &next, w, func(d *mail.Data) { d.Extended = by })
		if err != nil {
			return nil, err
		}
		m.Key = mailKey(ends)
		t.Mails = append(t.Mails, m)
	}
	r, err := e.Store.Transition(ctx, t)
	if err == nil {
		e.notify()
	}
	return r, err
}

// mailKey tells apart the mails of a kind that go once per end time.
func mailKey(ends time.Time) string { return ends.UTC().Format(time.RFC3339) }

// Resend queues the credentials mail of a running registration again.
func (e *Engine) Resend(ctx context.Context, id int64, actor string) error {
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return err
	}
	if !r.State.Running() {
		return wod.Errorf(wod.ECONFLICT, "registration %d is %s; credentials exist only while it runs", id, r.State)
	}
	if err := e.Store.RequeueMail(ctx, id, wod.MailCredentials); err != nil {
		return err
	}
	e.notify()
	return e.Store.RecordEvent(ctx, &wod.Event{Actor: actor, Kind: "registration.resend", Subject: subject(r)})
}

// resendLinkEvery is how often a participant may have their link sent
// again: enough for a lost mail, too little to flood someone's inbox.
const resendLinkEvery = 10 * time.Minute

// ResendLink sends the status link of the address's live registration again:
// the credentials mail once it is ready, the welcome mail before. A mail on
// its way, or sent within resendLinkEvery, is not sent again.
func (e *Engine) ResendLink(ctx context.Context, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if !wod.ValidEmail(email) {
		var v wod.Validation
		v.Add("email", "is not a valid e-mail address")
		return v.Err("the address is not valid")
	}
	rs, _, err := e.Store.FindRegistrations(ctx, wod.RegistrationFilter{Email: &email, Page: wod.Page{Limit: 20}})
	if err != nil {
		return err
	}
	var r *wod.Registration
	for _, x := range rs {
		if x.State.Live() {
			r = x
			break
		}
	}
	if r == nil {
		return nil
	}
	kind := wod.MailWelcome
	switch {
	case r.State.Running():
		kind = wod.MailCredentials
	case r.State == wod.StateWaiting:
		kind = wod.MailWaiting
	}
	ms, _, err := e.Store.FindMails(ctx, wod.MailFilter{RegistrationID: &r.ID, Kind: &kind, Page: wod.Page{Limit: 1}})
	if err != nil || len(ms) == 0 {
		return err
	}
	m := ms[0]
	if m.State == wod.MailQueued || m.State == wod.MailSending ||
		(m.SentAt != nil && e.now().Sub(*m.SentAt) < resendLinkEvery) {
		return nil
	}
	if err := e.Store.RequeueMail(ctx, r.ID, kind); err != nil {
		if wod.ErrorCode(err) == wod.ECONFLICT {
			return nil // being sent right now
		}
		return err
	}
	e.notify()
	return e.Store.RecordEvent(ctx, &wod.Event{Actor: "participant", Kind: "registration.resend_link",
		Subject: subject(r), Detail: string(kind)})
}

// Purge takes a registration's seat back at once, whatever its state: the
// operator's way out of anything stuck. A live registration fails; a
// finished one keeps its state and only has its seat purged.
func (e *Engine) Purge(ctx context.Context, id int64, actor string) (*wod.Registration, error) {
	r, err := e.Store.FindRegistration(ctx, id)
	if err != nil {
		return nil, err
	}
	if !r.SeatHeld {
		return nil, wod.Errorf(wod.ECONFLICT, "registration %d holds no seat any more; there is nothing to purge", id)
	}
	to := r.State
	var reason *string
	if r.State.Live() || r.State == wod.StateEnding {
		to = wod.StateFailed
		msg := "purged by " + actor
		reason = &msg
	}
	now := e.now()
	t := &wod.Transition{RegistrationID: id, From: []wod.RegistrationState{r.State}, To: to, Error: reason,
		Cancel: []wod.JobKind{wod.JobCreate, wod.JobCleanup, wod.JobReset, wod.JobRemind, wod.JobExpire, wod.JobWatchdog},
		Jobs:   []*wod.Job{{Kind: wod.JobPurge, RunAt: now}},
		Event:  &wod.Event{Actor: actor, Kind: "registration.purge", Subject: subject(r)}}
	if to == wod.StateFailed {
		t.EndedAt = &now
	}
	r, err = e.Store.Transition(ctx, t)
	if err == nil {
		e.notify()
	}
	return r, err
}
