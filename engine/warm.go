package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// The warm pool (wod.WarmPool): the keeper gives free seats warm jobs, the
// agent prepares them without a participant and reports the password, and
// Register takes a warm seat in the booking's transaction.

// WarmObserver, when the Observer implements it too, hears how the warm
// pools serve: each booking's outcome ("hit": it took a warm seat; "miss":
// the workshop has a pool, it was empty, the seat is created cold; "cold":
// no pool), and what the keeper leaves in each pool.
type WarmObserver interface {
	WarmBooking(workshop, outcome string)
	WarmPools(pools []*wod.WarmPoolState)
}

// DefaultWarmEvery is how often Run keeps the warm pools.
const DefaultWarmEvery = 2 * time.Second

// readyTransition is the step to ready: the clock starts, the credentials
// go out (not to a rehearsal's robot, which reads them from the store),
// and the remind and expire timers are set.
func (e *Engine) readyTransition(ctx context.Context, r *wod.Registration, w *wod.Workshop, at *wod.Location) (*wod.Transition, error) {
	now := e.now()
	ends := now.Add(w.Duration.Std())
	r.EndsAt = &ends
	var mails []*wod.Mail
	if r.RehearsalID == nil {
		// A seat that came from the waiting line is announced as such.
		creds, err := e.composeAt(ctx, wod.MailCredentials, r, w, at, func(d *mail.Data) { d.FromLine = r.WaitingSince != nil })
		if err != nil {
			return nil, err
		}
		mails = append(mails, creds)
	}
	jobs := []*wod.Job{{Kind: wod.JobExpire, RunAt: ends}}
	if remind := ends.Add(-e.RemindBefore); remind.After(now) {
		jobs = append(jobs, &wod.Job{Kind: wod.JobRemind, RunAt: remind})
	}
	return &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending}, To: wod.StateReady,
		ReadyAt: &now, EndsAt: &ends, Jobs: jobs, Mails: mails}, nil
}

// warmReady is the step a booking that took a warm seat applies in its
// own transaction: ready at once, with the seat's password (the store
// puts it in), no create job, no watchdog. It reads nothing from the store
// (see composeAt): the registration comes with its location.
func (e *Engine) warmReady(ctx context.Context, r *wod.Registration, w *wod.Workshop) (*wod.Transition, error) {
	if r.At == nil || r.At.Name != r.Location {
		return nil, fmt.Errorf("warm booking of registration %d: its location was not read with it", r.ID)
	}
	t, err := e.readyTransition(ctx, r, w, r.At)
	if err != nil {
		return nil, err
	}
	t.Event = &wod.Event{Actor: "system", Kind: "registration.warm", Subject: subject(r), Detail: r.Username}
	return t, nil
}

func (e *Engine) observeBooking(r *wod.Registration, w *wod.Workshop) {
	o, ok := e.Observer.(WarmObserver)
	if !ok {
		return
	}
	switch {
	case r.State == wod.StateWaiting || w == nil:
		// Not a booking yet: the seat it gets later is counted nowhere.
	case r.State == wod.StateReady:
		o.WarmBooking(r.Workshop, "hit")
	case w.Warm != 0:
		o.WarmBooking(r.Workshop, "miss")
	case r.RehearsalID == nil:
		o.WarmBooking(r.Workshop, "cold")
	}
}

// warmJob describes a claimed warm job for the agent, or returns nil when
// its seat no longer waits for it (taken cold, or given back).
func (e *Engine) warmJob(ctx context.Context, j *wod.Job, aj *wod.AgentJob) (*wod.AgentJob, error) {
	var args wod.WarmArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return nil, fmt.Errorf("warm job %d: arguments: %w", j.ID, err)
	}
	number, ok, err := e.Store.WarmJobSeat(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, e.Store.CompleteJob(ctx, &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts,
			Result: []byte(`{"skipped":"the seat no longer waits for this warm job"}`)})
	}
	w, err := e.Store.FindWorkshopSettings(ctx, args.Workshop)
	if err != nil {
		return nil, err
	}
	l, err := e.Store.FindLocation(ctx, args.Location)
	if err != nil {
		return nil, err
	}
	// No Participant: nothing of a participant goes into a seat (wod.WarmPool).
	aj.Workshop, aj.SessionType, aj.Reset = w.Slug, w.SessionType, w.Reset
	aj.StudentNumber, aj.StudentID, aj.Username = number, l.StudentID(number), wod.StudentUsername(number)
	aj.SeatMin, aj.Appliance, aj.Compile, aj.LDAP = w.SeatsAt(l.ID).Min, w.Appliance, w.Compile, w.LDAP
	aj.Limits = w.Limits
	return aj, nil
}

// warmed records a warm job's report: its seat becomes warm with the
// password, sealed.
func (e *Engine) warmed(ctx context.Context, res wod.AgentResult, done *wod.JobCompletion) error {
	if res.Password == "" {
		return fmt.Errorf("warm job %d reported no password", done.JobID)
	}
	sealed, err := e.Keys.Encrypt(res.Password)
	if err != nil {
		return err
	}
	warm, err := e.Store.WarmReady(ctx, done, sealed)
	if err == nil && warm {
		e.Logger.InfoContext(ctx, "seat warm", "job", done.JobID)
	}
	return err
}

// KeepWarm brings every workshop's warm pool to its target (wod.WarmTarget)
// and frees the seats of warm jobs that ended without making them warm.
// It returns how many warm jobs it scheduled.
func (e *Engine) KeepWarm(ctx context.Context) (int, error) {
	if n, err := e.Store.ReclaimWarming(ctx); err != nil {
		return 0, err
	} else if n > 0 {
		e.Logger.WarnContext(ctx, "seats given back: their warm job ended without making them warm", "seats", n)
	}
	pools, err := e.Store.WarmPools(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for i, p := range pools {
		if p.Warm+p.Warming == p.Target && p.Stale == 0 && p.Active {
			// Balanced: no write transaction (on SQLite it would queue
			// behind, and hold up, the bookings).
			continue
		}
		kept, n, err := e.Store.KeepWarm(ctx, p.WorkshopID, p.LocationID)
		if err != nil {
			return total, err
		}
		pools[i] = kept
		total += n
	}
	if o, ok := e.Observer.(WarmObserver); ok {
		o.WarmPools(pools)
	}
	if total > 0 {
		e.notify()
	}
	return total, nil
}

// keepWarmNow runs the keeper from Run's loop, at most every WarmEvery.
func (e *Engine) keepWarmNow(ctx context.Context) {
	every := e.WarmEvery
	if every <= 0 {
		every = DefaultWarmEvery
	}
	if time.Since(e.lastWarm) < every {
		return
	}
	e.lastWarm = time.Now()
	if _, err := e.KeepWarm(ctx); err != nil && ctx.Err() == nil {
		e.Logger.ErrorContext(ctx, "warm pools", "error", err)
	}
}
