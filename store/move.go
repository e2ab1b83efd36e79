package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

// MoveStrandedCreates moves pending registrations whose location's agent
// has been silent for stale to another location of their workshop whose
// agent is alive, up to limit of them, each in its own transaction: a new
// seat there, the old one freed (or, if the create had started, kept
// dirty and purged at the old location once the silent agent's lease is
// over), the registration's location, seat and student number changed and
// its create job re-pointed. The create keeps its attempt count, which
// fences the silent agent: a report it sends when it comes back names an
// attempt and a location the job no longer has, and is refused.
func (db *DB) MoveStrandedCreates(ctx context.Context, stale time.Duration, limit int) (moves []wod.CreateMove, err error) {
	if stale <= 0 {
		return nil, nil
	}
	var ids []int64
	err = db.read(ctx, func(tx *Tx) error {
		ids, err = queryAll(tx, scanOne[int64], `SELECT j.id FROM jobs j
			JOIN registrations r ON r.id = j.registration_id JOIN locations l ON l.id = j.location_id
			WHERE j.kind = 'create' AND j.state IN ('queued', 'running') AND r.state = 'pending'
			AND r.location_id = j.location_id AND l.last_heartbeat < $1
			ORDER BY j.id LIMIT $2`, tx.now.Add(-stale), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stranded creates: %w", err)
	}
	for _, id := range ids {
		var m *wod.CreateMove
		err := db.transact(ctx, func(tx *Tx) error {
			m, err = moveCreate(tx, id, stale)
			return err
		})
		if err != nil {
			return moves, fmt.Errorf("move create job %d: %w", id, err)
		}
		if m != nil {
			moves = append(moves, *m)
		}
	}
	return moves, nil
}

// moveCreate moves one create job's registration, or returns nil when it
// no longer needs to move or has nowhere to go.
func moveCreate(tx *Tx, jobID int64, stale time.Duration) (*wod.CreateMove, error) {
	var j struct {
		attempts, number       int
		state                  wod.JobState
		lease                  sql.NullTime
		locationID, regID, wID int64
		seat                   sql.NullInt64
		regState               wod.RegistrationState
		heartbeat              sql.NullTime
		from                   string
	}
	// Locks in the order every step takes them: the registration, then
	// its jobs, then the workshop and the seats.
	var regID int64
	err := tx.queryRow(`SELECT registration_id FROM jobs WHERE id = $1 AND kind = 'create'`, jobID).Scan(&regID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	err = tx.queryRow(`SELECT id, workshop_id, seat_id, student_number, state, location_id FROM registrations
		WHERE id = $1`+tx.forUpdate(), regID).Scan(&j.regID, &j.wID, &j.seat, &j.number, &j.regState, &j.locationID)
	if err != nil {
		return nil, err
	}
	var jobLocation sql.NullInt64
	err = tx.queryRow(`SELECT attempts, state, lease_until, location_id FROM jobs WHERE id = $1`+tx.forUpdate(), jobID).
		Scan(&j.attempts, &j.state, &j.lease, &jobLocation)
	if err != nil {
		return nil, err
	}
	if !jobLocation.Valid || jobLocation.Int64 != j.locationID {
		return nil, nil
	}
	if err := tx.queryRow(`SELECT last_heartbeat, name FROM locations WHERE id = $1`, j.locationID).
		Scan(&j.heartbeat, &j.from); err != nil {
		return nil, err
	}
	// Checked again under the lock: an agent may have spoken or reported
	// since the listing.
	if j.regState != wod.StatePending || (j.state != wod.JobQueued && j.state != wod.JobRunning) ||
		!j.heartbeat.Valid || !j.heartbeat.Time.Before(tx.now.Add(-stale)) || !j.seat.Valid {
		return nil, nil
	}
	var one int
	if err := tx.queryRow(`SELECT 1 FROM workshops WHERE id = $1`+tx.forUpdate(), j.wID).Scan(&one); err != nil {
		return nil, err
	}
	to, err := placeMove(tx, j.wID, j.locationID, stale)
	if err != nil || to.seatID == 0 {
		return nil, err
	}
	m := &wod.CreateMove{RegistrationID: j.regID, From: j.from, To: to.at.Name, FromNumber: j.number, ToNumber: to.number,
		Purge: j.attempts > 0}
	if m.Purge {
		// The silent agent may still be at work on the seat until its lease
		// ends (it stops there on its own): the purge waits for that.
		runAt := tx.now
		if j.lease.Valid && j.lease.Time.After(runAt) {
			runAt = j.lease.Time.UTC()
		}
		if _, err := tx.exec(`UPDATE seats SET state = 'dirty', updated_at = $1 WHERE id = $2 AND registration_id = $3`,
			tx.now, j.seat.Int64, j.regID); err != nil {
			return nil, err
		}
		args, err := json.Marshal(wod.SeatPurge{SeatID: j.seat.Int64, Number: j.number, RegistrationID: j.regID})
		if err != nil {
			return nil, err
		}
		loc := j.locationID
		if err := insertJob(tx, &wod.Job{Kind: wod.JobPurge, LocationID: &loc, RunAt: runAt, Args: args}); err != nil {
			return nil, err
		}
	} else if err := moveSeat(tx, j.seat.Int64, j.regID, wod.SeatFree); err != nil {
		return nil, err
	}
	res, err := tx.exec(`UPDATE seats SET state = 'assigned', registration_id = $1, updated_at = $2
		WHERE id = $3 AND state = 'free'`, j.regID, tx.now, to.seatID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("seat %d was taken under our lock", to.seatID)
	}
	if _, err := tx.exec(`UPDATE registrations SET location_id = $1, seat_id = $2, student_number = $3, updated_at = $4
		WHERE id = $5`, to.at.ID, to.seatID, to.number, tx.now, j.regID); err != nil {
		return nil, err
	}
	// The attempts go on from where they were (they fence the silent
	// agent's report); the new location gets its own share of tries.
	if _, err := tx.exec(`UPDATE jobs SET location_id = $1, state = 'queued', run_at = $2, lease_until = NULL,
		leased_by = '', max_attempts = attempts + $3, last_error = $4, updated_at = $2 WHERE id = $5`,
		to.at.ID, tx.now, wod.DefaultMaxAttempts,
		fmt.Sprintf("moved from %s, whose agent is silent, to %s", j.from, to.at.Name), jobID); err != nil {
		return nil, err
	}
	if err := notifyAgentJob(tx, to.at.ID); err != nil {
		return nil, err
	}
	// Its other jobs follow it (timers do not care where they run; a job
	// of the old location would name a seat no longer its own).
	if _, err := tx.exec(`UPDATE jobs SET location_id = $1 WHERE registration_id = $2 AND id <> $3
		AND state IN ('queued', 'running')`, to.at.ID, j.regID, jobID); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("from student%d at %s to student%d at %s (its agent is silent)", j.number, j.from, to.number, to.at.Name)
	if m.Purge {
		detail += "; the old seat is purged there"
	}
	if err := recordEvent(tx, &wod.Event{Actor: "system", Kind: "registration.moved",
		Subject: fmt.Sprintf("registration:%d", j.regID), Detail: detail}); err != nil {
		return nil, err
	}
	return m, nil
}

// placeMove picks the new seat of a moved create: placement's order among
// the workshop's other locations whose agent is alive (not those never
// heard of: moving there would trade one silence for another). A zero
// seat: nowhere to go for now.
func placeMove(tx *Tx, workshopID, from int64, stale time.Duration) (placed, error) {
	cs, err := candidates(tx, workshopID, stale)
	if err != nil {
		return placed{}, err
	}
	for _, c := range rank(cs) {
		if !c.alive || c.locationID == from {
			continue
		}
		id, n, ok, err := lowestFreeSeat(tx, c)
		if err != nil {
			return placed{}, err
		}
		if ok {
			return c.place(id, n, wod.SeatFree), nil
		}
	}
	return placed{}, nil
}

// ReleaseSeat frees the seat a moved create left behind, once its purge
// has run, and completes the purge job in the same transaction. The seat
// is freed only if it is still the dirty seat of that registration.
func (db *DB) ReleaseSeat(ctx context.Context, p wod.SeatPurge, done *wod.JobCompletion) error {
	err := db.transact(ctx, func(tx *Tx) error {
		if err := lockSeatWorkshops(tx, p.SeatID); err != nil {
			return err
		}
		var locationID int64
		err := tx.queryRow(`UPDATE seats SET state = 'free', registration_id = NULL, updated_at = $1
			WHERE id = $2 AND registration_id = $3 AND state = 'dirty' RETURNING location_id`,
			tx.now, p.SeatID, p.RegistrationID).Scan(&locationID)
		switch {
		case err == nil:
			// The freed seat goes to the waiting line in this transaction.
			if _, err := serveLine(tx, locationID); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return completeJob(tx, done)
	})
	if err != nil {
		return fmt.Errorf("release seat %d: %w", p.SeatID, err)
	}
	return nil
}
