package engine

import "time"

// lookout is what the claims of one location know of its jobs: when one
// of them last looked, the wake-ups the location had before that look, and
// whether the look left no job due. A wake-up comes for every agent job
// scheduled at the location (from this server's steps, or, while hearing,
// from the store for every replica's), so that a look that left nothing
// due stays true until the next wake-up: a new claim then waits for one
// instead of looking again. An agent sends a new claim after every report,
// and in a crowd that first look found nothing most of the time. What no
// wake-up announces (a job that waited for another of its registration, a
// lapsed lease, one scheduled while this server did not hear the store) is
// found, as by a waiting claim, within the second.
type lookout struct {
	at    time.Time // on the wall clock, which paces the looks
	due   time.Time // on the engine's clock, by which jobs fall due
	woken uint64    // wake-ups of the location, counted by wakeClaimsLocked
	seen  uint64    // woken (plus the wake-ups of all) when the last look began
	clear bool      // the last look left no job due
}

// look is a claim's look for jobs in progress: the wake-ups it began
// after.
type look struct {
	locationID int64
	seen       uint64
}

func (e *Engine) lookoutLocked(locationID int64) *lookout {
	if e.lookouts == nil {
		e.lookouts = map[int64]*lookout{}
	}
	l := e.lookouts[locationID]
	if l == nil {
		l = &lookout{}
		e.lookouts[locationID] = l
	}
	return l
}

// lookAgain says whether a claim looks for jobs now, and if so begins the
// look. A claim woken up looks. A new claim looks unless the location's
// last look, within the second of the engine's clock, left nothing due and
// no wake-up came since. A claim that waited a second without a wake-up
// looks only if no claim of the location looked within the second: that
// look finds what no wake-up announces (a job another replica scheduled
// unheard, one that waited for another of its registration, a lapsed
// lease), and one look finds what every other would.
func (e *Engine) lookAgain(locationID int64, why lookReason) (look, bool) {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	now := time.Now()
	l := e.lookoutLocked(locationID)
	woken := l.woken + e.wokenAll
	switch why {
	case lookNew:
		// Jobs fall due by the engine's clock: a look older by it may have
		// missed some that are due now.
		if e.now().Sub(l.due) < maxSleep && l.clear && l.seen == woken {
			return look{}, false
		}
	case lookTimer:
		if now.Sub(l.at) < maxSleep {
			return look{}, false
		}
	}
	l.at, l.due, l.seen, l.clear = now, e.now(), woken, false
	return look{locationID: locationID, seen: woken}, true
}

// lookDone records what a look found: clear when it left no job due.
func (e *Engine) lookDone(lk look, clear bool) {
	e.wakeMu.Lock()
	defer e.wakeMu.Unlock()
	l := e.lookoutLocked(lk.locationID)
	// A look begun since is the one that tells.
	if l.seen == lk.seen && clear {
		l.clear = true
	}
}

// lookReason is why a claim considers looking for jobs.
type lookReason int

const (
	lookNew   lookReason = iota // the agent's claim just came
	lookWoken                   // a wake-up came for the location
	lookTimer                   // a second passed without one
)
