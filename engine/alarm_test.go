package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fixedClock is a clock stopped at its time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// waitFor runs a.Wait(ctx, due) and returns how long it took and its error.
func waitFor(ctx context.Context, a alarm, due time.Time) (time.Duration, error) {
	start := time.Now()
	err := a.Wait(ctx, due)
	return time.Since(start), err
}

func TestAlarmRingsWhenDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := fixedClock(now)

	// Due by the alarm's clock: a test's clock set past the due time rings
	// it at once, however far the wall clock is from it.
	if took, err := waitFor(t.Context(), setAlarm(clock, nil), now.Add(-time.Hour)); err != nil || took > maxSleep/2 {
		t.Errorf("past due: Wait = %v after %v, want nil at once", err, took)
	}
	if took, err := waitFor(t.Context(), setAlarm(clock, nil), now.Add(50*time.Millisecond)); err != nil ||
		took < 50*time.Millisecond || took > maxSleep {
		t.Errorf("due in 50ms: Wait = %v after %v, want nil after 50ms", err, took)
	}
	// Never longer than maxSleep: another replica's work cannot wake it.
	if took, err := waitFor(t.Context(), setAlarm(clock, nil), now.Add(time.Hour)); err != nil ||
		took < maxSleep || took > 3*maxSleep {
		t.Errorf("due in an hour: Wait = %v after %v, want nil after %v", err, took, maxSleep)
	}
	if took, err := waitFor(t.Context(), setAlarm(clock, nil), time.Time{}); err != nil || took < maxSleep {
		t.Errorf("nothing due: Wait = %v after %v, want nil after %v", err, took, maxSleep)
	}
	// Without a clock, the wall clock.
	if took, err := waitFor(t.Context(), setAlarm(nil, nil), time.Now().Add(20*time.Millisecond)); err != nil ||
		took < 20*time.Millisecond || took > maxSleep {
		t.Errorf("wall clock, due in 20ms: Wait = %v after %v, want nil after 20ms", err, took)
	}
}

func TestAlarmWokenEarly(t *testing.T) {
	t.Parallel()
	now := time.Now()
	wake := make(chan struct{})
	notified := func() <-chan struct{} { return wake }
	// Set before the signal, as the loops set it before they look for
	// work: the signal that comes while they look is not lost.
	a := setAlarm(fixedClock(now), notified)
	close(wake)
	if took, err := waitFor(t.Context(), a, now.Add(time.Hour)); err != nil || took > maxSleep/2 {
		t.Errorf("woken before Wait: Wait = %v after %v, want nil at once", err, took)
	}

	wake = make(chan struct{})
	a = setAlarm(fixedClock(now), notified)
	time.AfterFunc(20*time.Millisecond, func() { close(wake) })
	if took, err := waitFor(t.Context(), a, now.Add(time.Hour)); err != nil || took > maxSleep/2 {
		t.Errorf("woken during Wait: Wait = %v after %v, want nil after 20ms", err, took)
	}
}

func TestAlarmContextEnds(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	wake := make(chan struct{}) // never signalled
	a := setAlarm(fixedClock(now), func() <-chan struct{} { return wake })
	if took, err := waitFor(ctx, a, now.Add(time.Hour)); !errors.Is(err, context.Canceled) || took > maxSleep/2 {
		t.Errorf("cancelled: Wait = %v after %v, want context.Canceled after 20ms", err, took)
	}
	if _, err := waitFor(ctx, a, now.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: Wait = %v, want context.Canceled", err)
	}
}
