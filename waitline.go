package wod

import (
	"slices"
	"time"
)

// DefaultWaitMax is how long a participant stays in a waiting line at most.
const DefaultWaitMax = 2 * time.Hour

// EstimateWait guesses when the waiter at place (1: next) gets a seat.
// frees are when the workshop's held seats are expected back (a running
// session's end plus the cleanup time, in any order); cycle is how long a
// seat taken now stays away (the workshop's duration plus its cleanup).
// The k-th waiter gets the k-th seat to come back; past the seats held,
// the line goes round again a cycle later. False when no seat is held,
// so that nothing allows a guess.
func EstimateWait(frees []time.Time, place int, cycle time.Duration, now time.Time) (time.Time, bool) {
	if len(frees) == 0 || place < 1 {
		return time.Time{}, false
	}
	sorted := slices.Clone(frees)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	i := place - 1
	at := sorted[i%len(sorted)].Add(time.Duration(i/len(sorted)) * cycle)
	if at.Before(now) {
		at = now
	}
	return at, true
}
