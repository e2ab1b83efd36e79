package wod_test

import (
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

func TestEstimateWait(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	frees := []time.Time{at(50), at(10), at(30)} // any order
	cycle := 2 * time.Hour
	for _, c := range []struct {
		place int
		want  time.Time
		ok    bool
	}{
		{1, at(10), true},
		{3, at(50), true},
		{4, at(10).Add(cycle), true},     // round two: the first seat again
		{7, at(10).Add(2 * cycle), true}, // round three
		{0, time.Time{}, false},
	} {
		got, ok := wod.EstimateWait(frees, c.place, cycle, now)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("place %d: %v %v, want %v %v", c.place, got, ok, c.want, c.ok)
		}
	}
	if _, ok := wod.EstimateWait(nil, 1, cycle, now); ok {
		t.Error("an estimate with no seat held")
	}
	// A seat due back already (a late cleanup) is expected now, not in the past.
	if got, _ := wod.EstimateWait([]time.Time{at(-5)}, 1, cycle, now); !got.Equal(now) {
		t.Errorf("overdue seat: %v", got)
	}
}

func TestWaitingStates(t *testing.T) {
	if !wod.StateWaiting.Live() || wod.StateWaiting.Running() || !wod.StateWaiting.Valid() || !wod.StateLeft.Valid() || wod.StateLeft.Live() {
		t.Fatal("waiting holds the address but runs nothing; left is over")
	}
	for _, s := range wod.SeatStates {
		if s == wod.StateWaiting {
			t.Fatal("a waiter holds no seat")
		}
	}
	since := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seated := since.Add(7 * time.Minute)
	r := &wod.Registration{State: wod.StateWaiting, WaitingSince: &since}
	if got := r.WaitedFor(since.Add(3 * time.Minute)); got != 3*time.Minute {
		t.Errorf("waiting: %v", got)
	}
	r.State, r.SeatedAt = wod.StateReady, &seated
	if got := r.WaitedFor(since.Add(time.Hour)); got != 7*time.Minute {
		t.Errorf("seated: %v", got)
	}
}
