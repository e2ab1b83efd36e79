package wod

import "time"

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
		w.LocationID = w.LocationIDs[0]
	case upd.LocationID != nil || len(w.LocationIDs) == 0:
		w.LocationIDs = []int64{w.LocationID}
	default:
		w.LocationID = w.LocationIDs[0]
	}
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
