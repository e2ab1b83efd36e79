package wod

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxWorkshopLocations bounds how many locations one workshop is offered
// at.
const MaxWorkshopLocations = 50

// DefaultAgentStale is how long a location's agent may stay silent (no
// heartbeat) before the location gets no new participants and its pending
// creates move elsewhere.
const DefaultAgentStale = 2 * time.Minute

// NormalizeLocations makes LocationID and LocationIDs agree after an
// update: a new list wins (its first is the location), a LocationID set
// alone is a move to that one location, and a workshop with no list is at
// its LocationID only.
func (w *Workshop) NormalizeLocations(upd WorkshopUpdate) {
	switch {
	case upd.LocationIDs != nil && len(*upd.LocationIDs) > 0:
		w.LocationIDs = append([]int64(nil), (*upd.LocationIDs)...)
		w.LocationRanges = nil
		if upd.LocationRanges != nil {
			w.LocationRanges = append([]SeatRange(nil), (*upd.LocationRanges)...)
		}
		w.LocationID = w.LocationIDs[0]
	case upd.LocationID != nil || len(w.LocationIDs) == 0:
		w.LocationIDs, w.LocationRanges = []int64{w.LocationID}, nil
	default:
		w.LocationID = w.LocationIDs[0]
	}
	// One range per location, zero where it uses the workshop's.
	w.LocationRanges = append(w.LocationRanges, make([]SeatRange, max(0, len(w.LocationIDs)-len(w.LocationRanges)))...)
	w.LocationRanges = w.LocationRanges[:len(w.LocationIDs)]
}

// SeatRange is a range of local student numbers, Min..Max.
type SeatRange struct {
	Min, Max int
}

// IsZero reports whether the range is unset.
func (r SeatRange) IsZero() bool { return r == SeatRange{} }

// SeatsAt returns the workshop's seat range at a location: the location's
// own if it has one, else the workshop's.
func (w *Workshop) SeatsAt(locationID int64) SeatRange {
	for i, id := range w.LocationIDs {
		if id == locationID && i < len(w.LocationRanges) && !w.LocationRanges[i].IsZero() {
			return w.LocationRanges[i]
		}
	}
	return SeatRange{w.SeatMin, w.SeatMax}
}

// ParseLocationSpec reads an operator's "name" or "name:MIN-MAX" (the
// location's own seat range for the workshop).
func ParseLocationSpec(spec string) (name string, r SeatRange, err error) {
	name, rng, ok := strings.Cut(strings.TrimSpace(spec), ":")
	name = strings.TrimSpace(name)
	if !ok {
		return name, r, nil
	}
	lo, hi, ok := strings.Cut(strings.TrimSpace(rng), "-")
	r.Min, err = strconv.Atoi(strings.TrimSpace(lo))
	if err == nil && ok {
		r.Max, err = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err != nil || !ok || r.Min < 1 || r.Max < r.Min {
		return name, SeatRange{}, fmt.Errorf("%q: a location's seat range is name:MIN-MAX, such as hub2:21-40", spec)
	}
	return name, r, nil
}

// LocationSpec is the operator's spelling of a location with its range.
func LocationSpec(name string, r SeatRange) string {
	if r.IsZero() {
		return name
	}
	return fmt.Sprintf("%s:%d-%d", name, r.Min, r.Max)
}

// AgentAlive says whether a location's agent counts as alive at now: it
// sent a heartbeat within stale. never is true when it never sent one (a
// location being set up, or a fresh install before its agent's first
// heartbeat), which is neither alive nor stale.
func (l *Location) AgentAlive(now time.Time, stale time.Duration) (alive, never bool) {
	if l.LastHeartbeat == nil {
		return false, true
	}
	return stale <= 0 || !l.LastHeartbeat.Before(now.Add(-stale)), false
}

// Agent states of a location (Location.AgentState).
const (
	AgentAlive   = "alive"
	AgentSilent  = "silent"
	AgentUnknown = "unknown"
)

// SetAgentState fills AgentState at now for the server's stale setting.
func (l *Location) SetAgentState(now time.Time, stale time.Duration) {
	switch alive, never := l.AgentAlive(now, stale); {
	case alive:
		l.AgentState = AgentAlive
	case never:
		l.AgentState = AgentUnknown
	default:
		l.AgentState = AgentSilent
	}
}

// CreateMove is a pending registration moved to another location because
// its location's agent went silent before it prepared the seat.
type CreateMove struct {
	RegistrationID int64  `json:"registration_id"`
	From           string `json:"from"`
	To             string `json:"to"`
	FromNumber     int    `json:"from_number"`
	ToNumber       int    `json:"to_number"`
	// Purge: the create had started at From, so its seat there is purged
	// (once the silent agent's lease is over) before it is free again.
	Purge bool `json:"purge"`
}

// SeatPurge is the args of a purge job for a seat that no registration
// holds any more: the one a moved create left behind.
type SeatPurge struct {
	SeatID         int64 `json:"seat_id"`
	Number         int   `json:"number"`
	RegistrationID int64 `json:"registration_id"`
}
