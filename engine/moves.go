package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wod-dev/wod"
)

// Moves of pending creates away from a location whose agent went silent,
// and the purge of the seats they leave behind (see
// store.MoveStrandedCreates for what one move does).

// moveBatch bounds the moves of one pass of the timer loop.
const moveBatch = 50

func (e *Engine) agentStale() time.Duration {
	if e.AgentStale > 0 {
		return e.AgentStale
	}
	return wod.DefaultAgentStale
}

// MoveStranded moves the pending creates stranded at a location whose
// agent is silent to another location of their workshop whose agent is
// alive, and returns how many it moved. The timer loop runs it on every
// pass (at least every second).
func (e *Engine) MoveStranded(ctx context.Context) (int, error) {
	moves, err := e.Store.MoveStrandedCreates(ctx, e.agentStale(), moveBatch)
	for _, m := range moves {
		e.Logger.WarnContext(ctx, "pending registration moved: its location's agent is silent", "registration", m.RegistrationID,
			"from", m.From, "to", m.To, "seat", wod.StudentUsername(m.ToNumber), "old_seat_purged", m.Purge)
	}
	if len(moves) > 0 {
		e.notify()
	}
	return len(moves), err
}

// seatPurge reads the seat a registration-less purge job is for: the one a
// moved create left behind.
func seatPurge(j *wod.Job) (wod.SeatPurge, bool) {
	var p wod.SeatPurge
	if j.Kind != wod.JobPurge || json.Unmarshal(j.Args, &p) != nil || p.SeatID == 0 || p.Number < 1 {
		return p, false
	}
	return p, true
}

// seatPurgeJob describes a registration-less job for the agent: a purge of
// a seat a moved create left behind names its seat; any other is passed on
// as it is.
func (e *Engine) seatPurgeJob(ctx context.Context, j *wod.Job, aj *wod.AgentJob) (*wod.AgentJob, error) {
	p, ok := seatPurge(j)
	if !ok {
		return aj, nil
	}
	ls, err := e.Store.FindLocations(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if j.LocationID != nil && l.ID == *j.LocationID {
			aj.StudentNumber, aj.StudentID, aj.Username = p.Number, l.StudentID(p.Number), wod.StudentUsername(p.Number)
		}
	}
	return aj, nil
}
