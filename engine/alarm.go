package engine

import (
	"context"
	"time"

	"github.com/wod-dev/wod"
)

// maxSleep bounds every sleep of the engine's loops: work that another
// server replica schedules cannot wake this one, so it looks again at
// least this often.
const maxSleep = time.Second

// An alarm is the sleep of a loop that waits for work to fall due: the
// engine's timers, the outbox dispatcher and an agent's long-poll claim.
// It rings when the work is due by the alarm's clock (a test's clock set
// forward makes it ring at once), when the producer of the work signals
// (Engine.Notified), or when the loop's context ends; it never sleeps
// longer than maxSleep.
//
// Set it before the loop looks for work, then Wait: a signal sent while
// the loop looked still wakes it.
type alarm struct {
	clock wod.Clock       // nil: the wall clock, with its monotonic reading
	woken <-chan struct{} // nil: nothing wakes it early
}

// setAlarm sets an alarm on clock that notified, when not nil, wakes
// early: it returns the channel closed at the next signal.
func setAlarm(clock wod.Clock, notified func() <-chan struct{}) alarm {
	a := alarm{clock: clock}
	if notified != nil {
		a.woken = notified()
	}
	return a
}

// Wait sleeps until due by the alarm's clock (the zero due: nothing is
// known to be due, so maxSleep), until the alarm is woken, or until ctx
// ends, whichever comes first. It returns ctx's error if ctx ended, else
// nil.
func (a alarm) Wait(ctx context.Context, due time.Time) error {
	sleep := maxSleep
	if !due.IsZero() {
		now := time.Now()
		if a.clock != nil {
			now = a.clock.Now()
		}
		sleep = min(sleep, max(due.Sub(now), 0))
	}
	t := time.NewTimer(sleep)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-a.woken:
	case <-t.C:
	}
	return nil
}
