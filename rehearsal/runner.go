// Package rehearsal runs workshops with a robot participant: it books a
// seat as a participant would (never one a participant needs), waits for
// it to be ready, has a wod.NotebookExecutor run every notebook through the
// hub, has the seat cleaned up as usual and checks the completion measured
// there. It keeps the result per workshop, schedules rehearsals at a quiet
// hour and alerts the operators when a workshop that passed fails now.
package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// Engine is what a rehearsal needs of the lifecycle engine.
type Engine interface {
	RegisterRehearsal(ctx context.Context, h *wod.Rehearsal) (*wod.Registration, error)
	RehearsalCredentials(ctx context.Context, r *wod.Registration) (*wod.Credentials, error)
	EndNow(ctx context.Context, id int64, actor string) (*wod.Registration, error)
	Purge(ctx context.Context, id int64, actor string) (*wod.Registration, error)
	ComposeAlert(ctx context.Context, workshop, text string) (*wod.Mail, error)
	Notified() <-chan struct{}
}

// Store is what a rehearsal needs of the store.
type Store interface {
	wod.RehearsalStore
	DeleteRehearsal(ctx context.Context, id int64) error
	FindRegistration(ctx context.Context, id int64) (*wod.Registration, error)
	FindWorkshops(ctx context.Context, f wod.WorkshopFilter) ([]*wod.Workshop, int, error)
	RegistrationHours(ctx context.Context, since time.Time) ([24]int, error)
}

// Observer hears of finished rehearsals (metrics).
type Observer interface {
	Rehearsed(outcome wod.RehearsalState, cellFailures int)
}

// Notebooks lists a workshop's notebooks in the order a participant takes
// them, as paths relative to the student's home ("WKSHP-X/1-Intro.ipynb").
type Notebooks func(ctx context.Context, slug string) ([]string, error)

// Defaults of a Runner.
const (
	DefaultCellTimeout = 2 * time.Minute
	DefaultInput       = "1"
	// DefaultReadyTimeout bounds the wait for the seat: the engine's
	// watchdog fails a create at 10 minutes by default.
	DefaultReadyTimeout = 15 * time.Minute
	// DefaultCleanupTimeout bounds the wait for the cleanup's completion.
	DefaultCleanupTimeout = 15 * time.Minute
	// heartbeat is how often a running rehearsal is saved even without
	// progress; StaleAfter is when one not saved is taken for gone.
	heartbeat  = 30 * time.Second
	StaleAfter = 5 * time.Minute
)

// Actor is who ends and cleans the robot's seats in the audit trail.
const Actor = "rehearsal"

// Runner runs rehearsals. Fill the fields, then Start (an operator's
// request) or Rehearse (the schedule, tests); Run sweeps rehearsals that a
// crash or restart left running and runs the schedule.
type Runner struct {
	Store     Store
	Engine    Engine
	Executor  wod.NotebookExecutor
	Notebooks Notebooks
	Clock     wod.Clock
	Logger    *slog.Logger
	Observer  Observer
	// CellTimeout and Input are the executor's options (defaults 2m, "1").
	CellTimeout time.Duration
	Input       string
	// ReadyTimeout and CleanupTimeout bound the waits for the seat.
	ReadyTimeout, CleanupTimeout time.Duration
	// Every, when positive, rehearses every active workshop that often
	// (Schedule).
	Every time.Duration

	// base is the context of the runs that Start leaves running: the
	// process's, not the request's.
	mu   sync.Mutex
	base context.Context
	wg   sync.WaitGroup
}

// ErrNoExecutor is the answer without a hub executor.
var ErrNoExecutor = wod.Errorf(wod.EUNAVAILABLE, "rehearsals need a hub executor, and this server has none")

// Start books a seat for a rehearsal of the workshop and runs it in the
// background; it returns the running rehearsal. When no seat can be taken
// without taking one a participant needs, it answers EFULL and leaves no
// rehearsal behind.
func (r *Runner) Start(ctx context.Context, slug, by string) (*wod.Rehearsal, error) {
	if r == nil || r.Executor == nil {
		return nil, ErrNoExecutor
	}
	h, reg, err := r.book(ctx, slug, by)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	r.wg.Go(func() { r.run(base, h, reg) })
	return h, nil
}

// Rehearse runs a rehearsal of the workshop to its end and returns it.
func (r *Runner) Rehearse(ctx context.Context, slug, by string) (*wod.Rehearsal, error) {
	if r.Executor == nil {
		return nil, ErrNoExecutor
	}
	h, reg, err := r.book(ctx, slug, by)
	if err != nil {
		return nil, err
	}
	r.run(ctx, h, reg)
	return r.Store.FindRehearsal(context.WithoutCancel(ctx), h.ID)
}

// Wait waits for the rehearsals that Start left running.
func (r *Runner) Wait() { r.wg.Wait() }

// book creates the rehearsal and books its seat; without a seat the
// rehearsal is removed again.
func (r *Runner) book(ctx context.Context, slug, by string) (*wod.Rehearsal, *wod.Registration, error) {
	h := &wod.Rehearsal{Workshop: slug, RequestedBy: by}
	if err := r.Store.CreateRehearsal(ctx, h); err != nil {
		return nil, nil, err
	}
	reg, err := r.Engine.RegisterRehearsal(ctx, h)
	if err != nil {
		if derr := r.Store.DeleteRehearsal(context.WithoutCancel(ctx), h.ID); derr != nil {
			r.logger().WarnContext(ctx, "remove a rehearsal without a seat", "rehearsal", h.ID, "error", derr)
		}
		return nil, nil, err
	}
	h.RegistrationID, h.Location = &reg.ID, reg.Location
	r.logger().InfoContext(ctx, "rehearsal started", "rehearsal", h.ID, "workshop", slug, "seat", reg.Username, "by", by)
	return h, reg, nil
}

// progress is a running rehearsal as the executor's callbacks and the
// heartbeat share it.
type progress struct {
	mu sync.Mutex
	h  *wod.Rehearsal
}

func (p *progress) save(ctx context.Context, s Store) error {
	p.mu.Lock()
	c := *p.h
	c.Notebooks = append([]wod.NotebookRun(nil), p.h.Notebooks...)
	p.mu.Unlock()
	return s.UpdateRehearsal(ctx, &c)
}

// run carries a booked rehearsal to its verdict. Whatever happens, the
// seat is ended (cleaned up as a participant's) and the rehearsal gets a
// final state: a run cut short by ctx still ends both, on a context of
// its own.
func (r *Runner) run(ctx context.Context, h *wod.Rehearsal, reg *wod.Registration) {
	p := &progress{h: h}
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Go(func() {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if err := p.save(hbCtx, r.Store); err != nil && hbCtx.Err() == nil {
					r.logger().WarnContext(hbCtx, "save rehearsal", "rehearsal", h.ID, "error", err)
				}
			}
		}
	})
	failure := r.execute(ctx, p, reg)

	// The end: the usual cleanup, waited for, on a context that outlives
	// a server stopping, so that no seat is left to its timers.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cleanupTimeout()+time.Minute)
	defer cancel()
	if ctx.Err() != nil && failure == "" {
		failure = "interrupted: the server stopped"
	}
	done, cleanupErr := r.cleanup(endCtx, ctx, reg)
	// The heartbeat goes on through the cleanup: a rehearsal waiting for
	// it is not gone.
	stopHeartbeat()
	hb.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	if done != nil {
		h.Completion = done.Completion
	}
	h.State, h.Error = verdict(h, failure, done, cleanupErr)
	alert := r.regression(endCtx, h)
	if err := r.Store.FinishRehearsal(endCtx, h, alert); err != nil {
		r.logger().ErrorContext(endCtx, "finish rehearsal", "rehearsal", h.ID, "error", err)
		return
	}
	if r.Observer != nil {
		r.Observer.Rehearsed(h.State, h.CellFailures())
	}
	r.logger().InfoContext(endCtx, "rehearsal finished", "rehearsal", h.ID, "workshop", h.Workshop, "state", h.State,
		"error", h.Error)
}

// execute waits for the seat and runs the notebooks; it returns why the
// run failed outside the cells, or "".
func (r *Runner) execute(ctx context.Context, p *progress, reg *wod.Registration) string {
	h := p.h
	ready, err := r.waitFor(ctx, reg.ID, r.readyTimeout(), func(s wod.RegistrationState) bool { return s != wod.StatePending })
	if err != nil {
		return "the seat was not ready: " + err.Error()
	}
	if !ready.State.Running() {
		msg := "the seat could not be prepared: " + string(ready.State)
		if ready.Error != "" {
			msg += ": " + ready.Error
		}
		return msg
	}
	creds, err := r.Engine.RehearsalCredentials(ctx, ready)
	if err != nil {
		return err.Error()
	}
	if creds.LoginURL == "" {
		return "the location " + ready.Location + " has no hub URL to log in at"
	}
	hubURL := strings.TrimSuffix(creds.LoginURL, "/hub/login")
	nbs, err := r.Notebooks(ctx, h.Workshop)
	if err != nil {
		return "list the notebooks: " + err.Error()
	}
	if len(nbs) == 0 {
		return "the workshop has no notebook to rehearse"
	}
	opt := wod.RehearsalOptions{CellTimeout: r.CellTimeout, Input: r.Input, Progress: func(runs []wod.NotebookRun) {
		p.mu.Lock()
		h.Notebooks = append([]wod.NotebookRun(nil), runs...)
		p.mu.Unlock()
		if err := p.save(ctx, r.Store); err != nil && ctx.Err() == nil {
			r.logger().WarnContext(ctx, "save rehearsal progress", "rehearsal", h.ID, "error", err)
		}
	}}
	if opt.CellTimeout <= 0 {
		opt.CellTimeout = DefaultCellTimeout
	}
	if opt.Input == "" {
		opt.Input = DefaultInput
	}
	runs, err := r.Executor.RunNotebooks(ctx, hubURL, creds.Username, creds.Password, nbs, opt)
	p.mu.Lock()
	if runs != nil {
		h.Notebooks = runs
	}
	p.mu.Unlock()
	if err != nil {
		return "the run stopped: " + err.Error()
	}
	return ""
}

// cleanup ends the robot's seat as a participant's ends and waits for the
// cleanup to finish. A seat still pending (never ready) is purged: there is
// nothing to measure. run is the run's own context: when it ended (the
// server stops), the cleanup is asked for but not waited for; the engine
// carries it out.
func (r *Runner) cleanup(ctx, run context.Context, reg *wod.Registration) (*wod.Registration, error) {
	cur, err := r.Store.FindRegistration(ctx, reg.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case cur.State == wod.StatePending:
		_, err := r.Engine.Purge(ctx, reg.ID, Actor)
		return nil, err
	case cur.State.Live():
		if _, err := r.Engine.EndNow(ctx, reg.ID, Actor); err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
			return nil, err
		}
	}
	if run.Err() != nil {
		return nil, errors.New("not waited for: the server stopped")
	}
	return r.waitFor(ctx, reg.ID, r.cleanupTimeout(), wod.RegistrationState.Final)
}

// verdict decides a finished rehearsal: it fails on a failure outside the
// cells, a failed cell, a cleanup that did not finish, or a completion
// under 100 % when every cell ran.
func verdict(h *wod.Rehearsal, failure string, done *wod.Registration, cleanupErr error) (wod.RehearsalState, string) {
	var reasons []string
	if failure != "" {
		reasons = append(reasons, failure)
	}
	if n := h.CellFailures(); n > 0 {
		nb, c := h.FirstFailure()
		first := nb.Path + ": " + nb.Error
		if c != nil {
			first = fmt.Sprintf("%s, cell %d: %s", nb.Path, c.Index, c.Status)
			if c.EName != "" {
				first += ": " + c.EName + ": " + c.EValue
			}
		}
		reasons = append(reasons, fmt.Sprintf("%d failed (first: %s)", n, first))
	}
	switch {
	case cleanupErr != nil:
		reasons = append(reasons, "cleanup: "+cleanupErr.Error())
	case done == nil:
	case done.State != wod.StateDone:
		reasons = append(reasons, "cleanup failed: the seat's registration is "+string(done.State)+" "+done.Error)
	case done.Error != "":
		reasons = append(reasons, "cleanup: "+done.Error)
	case failure == "":
		want, ran, ok := expectedCompletion(h)
		if ok && (done.Completion == nil || *done.Completion != want) {
			got := "nothing"
			if done.Completion != nil {
				got = fmt.Sprintf("%d %%", *done.Completion)
			}
			reasons = append(reasons, fmt.Sprintf("%s, but the completion measured at cleanup is %s, not %d %%", ran, got, want))
		}
	}
	if len(reasons) > 0 {
		return wod.RehearsalFailed, strings.Join(reasons, "; ")
	}
	return wod.RehearsalPassed, ""
}

// expectedCompletion is the completion cleanup must measure after this
// rehearsal: 100 % when every code cell ran, ran × 100 / cells when some
// were skipped (cleanup counts the cells executed). ok is false when it
// cannot be known: a notebook failed or was skipped whole (its cells are
// not listed).
func expectedCompletion(h *wod.Rehearsal) (percent int, what string, ok bool) {
	if len(h.Notebooks) == 0 {
		return 0, "", false
	}
	var cells, ran int
	for i := range h.Notebooks {
		n := &h.Notebooks[i]
		if n.Failed() || n.Skipped {
			return 0, "", false
		}
		for _, c := range n.Cells {
			cells++
			if c.Status != wod.CellSkipped {
				ran++
			}
		}
	}
	if cells == 0 {
		return 0, "", false
	}
	if ran == cells {
		return 100, "every cell ran", true
	}
	return ran * 100 / cells, fmt.Sprintf("%d of %d cells ran (the others skipped)", ran, cells), true
}

// regression composes the operators' alert when the workshop passed its
// previous rehearsal and fails this one.
func (r *Runner) regression(ctx context.Context, h *wod.Rehearsal) *wod.Mail {
	if h.State != wod.RehearsalFailed {
		return nil
	}
	prev, err := r.Store.FindRehearsals(ctx, h.Workshop, 20)
	if err != nil {
		r.logger().WarnContext(ctx, "previous rehearsals", "workshop", h.Workshop, "error", err)
		return nil
	}
	for _, p := range prev {
		if p.ID >= h.ID || !p.State.Final() {
			continue
		}
		if p.State != wod.RehearsalPassed {
			return nil
		}
		text := fmt.Sprintf("Workshop %s passed its rehearsal of %s and fails now (rehearsal %d, requested by %s):\n%s",
			h.Workshop, p.CreatedAt.Format(time.RFC3339), h.ID, h.RequestedBy, h.Error)
		m, err := r.Engine.ComposeAlert(ctx, h.Workshop, text)
		if err != nil {
			r.logger().WarnContext(ctx, "compose rehearsal alert", "workshop", h.Workshop, "error", err)
		}
		return m
	}
	return nil
}

// waitFor waits until the registration's state satisfies ok, the timeout
// passes or ctx ends. It looks when the engine schedules work and at least
// every second (another server replica may move it).
func (r *Runner) waitFor(ctx context.Context, id int64, timeout time.Duration, ok func(wod.RegistrationState) bool) (*wod.Registration, error) {
	deadline := time.Now().Add(timeout)
	for {
		woken := r.Engine.Notified()
		reg, err := r.Store.FindRegistration(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok(reg.State) {
			return reg, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("registration %d is still %s after %s", id, reg.State, timeout)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runner) readyTimeout() time.Duration {
	if r.ReadyTimeout > 0 {
		return r.ReadyTimeout
	}
	return DefaultReadyTimeout
}

func (r *Runner) cleanupTimeout() time.Duration {
	if r.CleanupTimeout > 0 {
		return r.CleanupTimeout
	}
	return DefaultCleanupTimeout
}
