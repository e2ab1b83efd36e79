package engine

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// A rehearsal's robot takes a seat like a participant: the same create
// (account, password, rendered notebooks, hooks), the same transitions,
// the same cleanup and completion. What differs: it never takes a seat a
// participant needs (the store refuses unless another seat of the range
// stays free), it gets no mail (its address is not real; its credentials
// come from the store), and it counts in no participant statistic, badge
// or grade.

// RehearsalEmail is the address of rehearsal id's registration: unique, so
// that two rehearsals never share a live registration, and in the
// reserved .invalid domain, so that nothing could ever reach it.
func RehearsalEmail(id int64) string { return fmt.Sprintf("rehearsal-%d@rehearsal.invalid", id) }

// RegisterRehearsal books the seat of rehearsal h's robot in h's workshop
// and schedules its create and watchdog. EFULL when no seat can be taken
// without taking one a participant needs; EINVALID when the workshop is
// not open.
func (e *Engine) RegisterRehearsal(ctx context.Context, h *wod.Rehearsal) (*wod.Registration, error) {
	w, err := e.Store.FindWorkshopSettings(ctx, h.Workshop)
	if err != nil {
		return nil, err
	}
	if !w.Active {
		return nil, wod.Errorf(wod.EINVALID, "workshop %s is not active; only an active workshop is rehearsed", w.Slug)
	}
	now := e.now()
	r, err := e.Store.CreateRegistration(ctx, &wod.NewRegistration{
		Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Rehearsal robot", Email: RehearsalEmail(h.ID),
			Company: "wod"},
		Jobs: []*wod.Job{
			{Kind: wod.JobCreate, RunAt: now},
			{Kind: wod.JobWatchdog, RunAt: now.Add(e.ProvisionTimeout)},
		},
		RehearsalID: &h.ID,
		AgentStale:  e.agentStale(),
	})
	if err != nil {
		return nil, fmt.Errorf("book a seat for rehearsal %d of %s: %w", h.ID, w.Slug, err)
	}
	e.notify()
	e.Logger.InfoContext(ctx, "rehearsal seat booked", "rehearsal", h.ID, "registration", r.ID, "workshop", r.Workshop,
		"seat", r.Username, "location", r.Location)
	return r, nil
}

// RehearsalCredentials returns what the robot of registration r logs in
// with, once r is ready.
func (e *Engine) RehearsalCredentials(ctx context.Context, r *wod.Registration) (*wod.Credentials, error) {
	if r.RehearsalID == nil {
		return nil, wod.Errorf(wod.EINVALID, "registration %d is a participant's, not a rehearsal's", r.ID)
	}
	return Credentials(ctx, e.Store, e.Keys, r)
}

// ComposeAlert composes an operator alert about a workshop, or nil when no
// operator has an address to send it to.
func (e *Engine) ComposeAlert(ctx context.Context, workshop, text string) (*wod.Mail, error) {
	return e.alert(ctx, &wod.Registration{Workshop: workshop}, text)
}

// cleanedRehearsal finishes a rehearsal's registration: the completion is
// recorded and the seat freed (or kept for a reset) as a participant's
// would be, with no goodbye, badge, grade or kept notebooks.
func (e *Engine) cleanedRehearsal(ctx context.Context, r *wod.Registration, w *wod.Workshop, res wod.AgentResult, done *wod.JobCompletion) error {
	seat := wod.SeatFree
	var jobs []*wod.Job
	if w.Reset {
		seat = wod.SeatDirty
		jobs = append(jobs, &wod.Job{Kind: wod.JobReset, RunAt: e.now()})
	}
	err := e.Store.Apply(ctx, &wod.Transition{
		RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateEnding}, To: wod.StateDone,
		Completion: res.Completion, Seat: &seat, Jobs: jobs, Done: done,
	})
	return err
}
