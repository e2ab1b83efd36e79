package rehearsal

import (
	"context"
	"time"

	"github.com/wod-dev/wod"
)

// ScheduleActor requests the scheduled rehearsals.
const ScheduleActor = "schedule"

// Run, until ctx ends, sweeps the rehearsals that a crash or restart left
// running (failing them and ending their seats) and, with Every set,
// rehearses every active workshop on the schedule (see Due). Start's runs
// use ctx too, so that they stop with the server.
func (r *Runner) Run(ctx context.Context) {
	r.mu.Lock()
	r.base = ctx
	r.mu.Unlock()
	defer r.wg.Wait()
	for {
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.logger().ErrorContext(ctx, "sweep rehearsals", "error", err)
		}
		if r.Every > 0 && r.Executor != nil {
			if err := r.schedule(ctx); err != nil && ctx.Err() == nil {
				r.logger().ErrorContext(ctx, "schedule rehearsals", "error", err)
			}
		}
		t := time.NewTimer(time.Minute)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Sweep fails the rehearsals nobody has saved for StaleAfter (their
// runner is gone: a running one saves at least every 30 s) and ends their
// seats, so that a crash or restart mid-rehearsal leaves nothing running.
func (r *Runner) Sweep(ctx context.Context) error {
	stale, err := r.Store.FailStaleRehearsals(ctx, r.Clock.Now().Add(-StaleAfter),
		"interrupted: its runner stopped (the server restarted or crashed) before the end")
	if err != nil {
		return err
	}
	for _, h := range stale {
		r.logger().WarnContext(ctx, "rehearsal interrupted", "rehearsal", h.ID, "workshop", h.Workshop)
		if r.Observer != nil {
			r.Observer.Rehearsed(h.State, h.CellFailures())
		}
		if h.RegistrationID == nil {
			continue
		}
		reg, err := r.Store.FindRegistration(ctx, *h.RegistrationID)
		if err != nil {
			return err
		}
		switch {
		case reg.State == wod.StatePending:
			_, err = r.Engine.Purge(ctx, reg.ID, Actor)
		case reg.State.Live():
			_, err = r.Engine.EndNow(ctx, reg.ID, Actor)
		}
		if err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
			return err
		}
	}
	return nil
}

// QuietHour is the hour of the day (UTC) in which participants made the
// fewest registrations over the last week; ties go to the earliest hour.
func (r *Runner) QuietHour(ctx context.Context) (int, error) {
	hours, err := r.Store.RegistrationHours(ctx, r.Clock.Now().Add(-7*24*time.Hour))
	if err != nil {
		return 0, err
	}
	quiet := 0
	for h, n := range hours {
		if n < hours[quiet] {
			quiet = h
		}
	}
	return quiet, nil
}

// Due lists the active workshops whose last rehearsal is older than every
// (or that have none), at most one per location, and none at a location
// where a rehearsal runs: one at a time per location.
func Due(ws []*wod.Workshop, last map[string]*wod.Rehearsal, every time.Duration, now time.Time) []*wod.Workshop {
	busy := map[int64]bool{}
	for _, w := range ws {
		if h := last[w.Slug]; h != nil && h.State == wod.RehearsalRunning {
			busy[w.LocationID] = true
		}
	}
	var due []*wod.Workshop
	for _, w := range ws {
		if !w.Active || busy[w.LocationID] {
			continue
		}
		if h := last[w.Slug]; h != nil && now.Sub(h.CreatedAt) < every {
			continue
		}
		busy[w.LocationID] = true
		due = append(due, w)
	}
	return due
}

// schedule starts the due rehearsals: at the quiet hour when Every is a
// day or more, whenever due when it is shorter. A workshop without a seat
// to spare (EFULL) is left due: it is tried again the next minute, and
// waits rather than take a seat a participant needs.
func (r *Runner) schedule(ctx context.Context) error {
	now := r.Clock.Now().UTC()
	if r.Every >= 24*time.Hour {
		quiet, err := r.QuietHour(ctx)
		if err != nil {
			return err
		}
		if now.Hour() != quiet {
			return nil
		}
	}
	active := true
	ws, _, err := r.Store.FindWorkshops(ctx, wod.WorkshopFilter{Active: &active, Page: wod.Page{Limit: 10000}})
	if err != nil {
		return err
	}
	last, err := r.Store.LastRehearsals(ctx)
	if err != nil {
		return err
	}
	for _, w := range Due(ws, last, r.Every, now) {
		h, reg, err := r.book(ctx, w.Slug, ScheduleActor)
		if wod.ErrorCode(err) == wod.EFULL {
			r.logger().InfoContext(ctx, "scheduled rehearsal waits for a seat to spare", "workshop", w.Slug)
			continue
		}
		if err != nil {
			r.logger().WarnContext(ctx, "scheduled rehearsal", "workshop", w.Slug, "error", err)
			continue
		}
		r.wg.Go(func() { r.run(ctx, h, reg) })
	}
	return nil
}
