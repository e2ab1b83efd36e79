package store

import (
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/wod-dev/wod"
)

// Placement: which of a workshop's locations a participant's seat is taken
// at. It runs inside the booking transaction (and the move of a stranded
// create), so what it reads is what the booking writes against.
//
// The rule, in order:
//  1. Only locations whose agent is alive (a heartbeat within stale) or has
//     never spoken (a location being set up: a fresh wod up books before
//     its agent's first heartbeat) may take participants, as long as the
//     workshop has one such location. When every location's agent is
//     silent, they all stay eligible: the create waits for an agent to come
//     back and the watchdog apologises if none does, as with one location.
//  2. A location whose agent is alive comes before one never heard of.
//  3. A warm seat comes first (see candidate.warm: the warm pool's hook).
//  4. Then the most free seats of the workshop's range, then the
//     workshop's own order of its locations.

// candidate is one of a workshop's locations, as placement sees it.
type candidate struct {
	locationID int64
	name       string
	// hubURL and baseStudentID complete the location as a registration
	// booked there carries it (wod.Registration.At).
	hubURL        string
	baseStudentID int
	position      int
	heartbeat     sql.NullTime
	free          int
	// seats is the workshop's seat range at the location.
	seats wod.SeatRange
	// warm is how many ready, warm seats the location holds for the
	// workshop, made from its current content (store/warm.go): placement
	// prefers them, so a warm hit is a database transition.
	warm int

	alive, never bool
}

// candidatesSQL lists the workshop $1's locations with their seat ranges
// and their free and warm seats in them, in the workshop's order
// (scanCandidate reads a row).
const candidatesSQL = `SELECT wl.location_id, l.name, l.hub_url, l.base_student_id, wl.position, l.last_heartbeat,
		COALESCE(wl.seat_min, w.seat_min), COALESCE(wl.seat_max, w.seat_max),
		(SELECT COUNT(*) FROM seats s WHERE s.location_id = wl.location_id AND s.state = 'free'
			AND s.number BETWEEN COALESCE(wl.seat_min, w.seat_min) AND COALESCE(wl.seat_max, w.seat_max)),
		(SELECT COUNT(*) FROM seats s WHERE s.location_id = wl.location_id AND s.state = 'warm'
			AND s.warm_workshop_id = w.id AND s.warm_content_version = w.content_version
			AND s.number BETWEEN COALESCE(wl.seat_min, w.seat_min) AND COALESCE(wl.seat_max, w.seat_max))
	FROM workshop_locations wl JOIN locations l ON l.id = wl.location_id JOIN workshops w ON w.id = wl.workshop_id
	WHERE wl.workshop_id = $1`

// scanCandidate reads a row of candidatesSQL, or says there was none (a
// row of NULLs: the booking reads the candidates joined to its checks).
func scanCandidate(row scanner) (c candidate, ok bool, err error) {
	var id, base, position, lo, hi, free, warm sql.NullInt64
	var name, hub sql.NullString
	if err := row.Scan(&id, &name, &hub, &base, &position, &c.heartbeat, &lo, &hi, &free, &warm); err != nil {
		return c, false, err
	}
	c.locationID, c.name, c.hubURL, c.baseStudentID = id.Int64, name.String, hub.String, int(base.Int64)
	c.position, c.seats.Min, c.seats.Max = int(position.Int64), int(lo.Int64), int(hi.Int64)
	c.free, c.warm = int(free.Int64), int(warm.Int64)
	return c, id.Valid, nil
}

// candidates lists a workshop's locations with their seat ranges, their
// free seats in them and their agents' liveness at tx.now.
func candidates(tx *Tx, workshopID int64, stale time.Duration) ([]candidate, error) {
	var cs []candidate
	err := queryEach(tx, func(row scanner) error {
		c, ok, err := scanCandidate(row)
		if ok {
			cs = append(cs, c)
		}
		return err
	}, candidatesSQL+` ORDER BY wl.position`, workshopID)
	if err != nil {
		return nil, err
	}
	judge(tx, cs, stale)
	return cs, nil
}

// judge sets the candidates' agents' liveness at tx.now.
func judge(tx *Tx, cs []candidate, stale time.Duration) {
	for i := range cs {
		l := wod.Location{}
		if cs[i].heartbeat.Valid {
			t := cs[i].heartbeat.Time
			l.LastHeartbeat = &t
		}
		cs[i].alive, cs[i].never = l.AgentAlive(tx.now, stale)
	}
}

// rank orders the candidates by the placement rule and drops those that
// may not take participants (rule 1) or have no free seat.
func rank(cs []candidate) []candidate {
	anyLive := slices.ContainsFunc(cs, func(c candidate) bool { return c.alive || c.never })
	out := make([]candidate, 0, len(cs))
	for _, c := range cs {
		if (c.free > 0 || c.warm > 0) && (!anyLive || c.alive || c.never) {
			out = append(out, c)
		}
	}
	tier := func(c candidate) int {
		switch {
		case c.alive:
			return 0
		case c.never:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b candidate) int {
		if d := tier(a) - tier(b); d != 0 {
			return d
		}
		if d := b.warm - a.warm; d != 0 {
			return d
		}
		if d := b.free - a.free; d != 0 {
			return d
		}
		return a.position - b.position
	})
	return out
}

// lowestFreeSeat takes the lowest free seat of the range at a location,
// or reports false when another transaction holds them all.
func lowestFreeSeat(tx *Tx, c candidate) (id int64, number int, ok bool, err error) {
	err = tx.queryRow(`SELECT id, number FROM seats WHERE location_id = $1 AND state = 'free'
		AND number BETWEEN $2 AND $3 ORDER BY number LIMIT 1`+tx.skipLocked(), c.locationID, c.seats.Min, c.seats.Max).
		Scan(&id, &number)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	return id, number, err == nil, err
}

// placed is where placement put a seat.
type placed struct {
	seatID int64
	number int
	at     wod.Location // the seat's location: ID, Name, HubURL and BaseStudentID
	// from is the seat's state before the booking; a warm seat brings its
	// sealed password.
	from     wod.SeatState
	password []byte
}

// place is the seat taken at the candidate's location.
func (c candidate) place(seatID int64, number int, from wod.SeatState) placed {
	return placed{seatID: seatID, number: number, from: from,
		at: wod.Location{ID: c.locationID, Name: c.name, HubURL: c.hubURL, BaseStudentID: c.baseStudentID}}
}

// placeSeat picks, among the workshop's candidates (read under its lock),
// the location and the seat of a participant's registration, or EFULL.
func placeSeat(tx *Tx, workshop string, workshopID int64, cs []candidate, warm bool) (placed, error) {
	ranked := rank(cs)
	for _, c := range ranked {
		if warm && c.warm > 0 {
			p, ok, err := warmSeatAt(tx, c, workshopID)
			if err != nil || ok {
				return p, err
			}
		}
		id, n, ok, err := lowestFreeSeat(tx, c)
		if err != nil {
			return placed{}, err
		}
		if ok {
			return c.place(id, n, wod.SeatFree), nil
		}
	}
	// No free or warm seat: a seat whose warm job has not started yet is
	// taken cold (its job cancelled) rather than answering "full".
	for _, c := range cs {
		id, n, ok, err := takeQueuedWarming(tx, c)
		if err != nil || ok {
			return c.place(id, n, wod.SeatWarming), err
		}
	}
	return placed{}, wod.Errorf(wod.EFULL, "workshop %s has no free seat; please try again later", workshop)
}

// warmSeatAt takes the lowest warm seat the location holds for the
// workshop, made from its current content, with its sealed password; false
// when another booking holds them all.
func warmSeatAt(tx *Tx, c candidate, workshopID int64) (placed, bool, error) {
	p := c.place(0, 0, wod.SeatWarm)
	err := tx.queryRow(`SELECT s.id, s.number, s.warm_password_enc FROM seats s JOIN workshops w ON w.id = $2
		WHERE s.location_id = $1 AND s.state = 'warm' AND s.warm_workshop_id = w.id
		AND s.warm_content_version = w.content_version AND s.number BETWEEN $3 AND $4
		ORDER BY s.number LIMIT 1`+tx.skipLocked(), c.locationID, workshopID, c.seats.Min, c.seats.Max).
		Scan(&p.seatID, &p.number, &p.password)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && len(p.password) == 0) {
		return placed{}, false, nil
	}
	return p, err == nil, err
}

// takeQueuedWarming takes a seat of the range at the location being warmed
// whose warm job has not started: the job is cancelled and the seat booked
// cold. A warm job already running is left alone (two operations never
// work on one seat at once).
func takeQueuedWarming(tx *Tx, c candidate) (int64, int, bool, error) {
	var seatID, jobID int64
	var number int
	err := tx.queryRow(`SELECT s.id, s.number, j.id FROM seats s JOIN jobs j ON j.id = s.warm_job_id
		WHERE s.location_id = $1 AND s.state = 'warming' AND j.state = 'queued' AND s.number BETWEEN $2 AND $3
		ORDER BY s.number LIMIT 1`+tx.skipLocked(), c.locationID, c.seats.Min, c.seats.Max).Scan(&seatID, &number, &jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	res, err := tx.exec(`UPDATE jobs SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state = 'queued'`, tx.now, jobID)
	if err != nil {
		return 0, 0, false, err
	}
	n, _ := res.RowsAffected()
	return seatID, number, n == 1, nil
}

// placeRehearsal picks the seat of a rehearsal's robot: at the first
// location, in placement's order, where it can take one without taking a
// participant's (see rehearsalSeat).
func placeRehearsal(tx *Tx, workshop string, workshopID int64, stale time.Duration) (placed, error) {
	cs, err := candidates(tx, workshopID, stale)
	if err != nil {
		return placed{}, err
	}
	err = wod.Errorf(wod.EFULL, "no free seat for a rehearsal of %s", workshop)
	for _, c := range rank(cs) {
		id, n, rerr := rehearsalSeat(tx, workshop, c.locationID, c.seats.Min, c.seats.Max, tx.skipLocked())
		if rerr == nil {
			return c.place(id, n, wod.SeatFree), nil
		}
		if wod.ErrorCode(rerr) != wod.EFULL {
			return placed{}, rerr
		}
		err = rerr
	}
	return placed{}, err
}

// skipLocked locks the rows a query picks, skipping those another
// transaction holds (PostgreSQL; SQLite transactions hold the only write
// lock): workshops with overlapping ranges lock different workshop rows,
// so the seat rows themselves must be locked too.
func (tx *Tx) skipLocked() string {
	if tx.db.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}
