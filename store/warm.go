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

// The warm pool's seats (wod.WarmPool). A seat goes free → warming (the
// keeper schedules a warm job) → warm (the job's report brings the
// password) → assigned (a booking takes it, createRegistration). The keeper
// gives warm seats back (free) when the pool shrinks, and makes them again
// (warming) when their content is stale or they waited a day; a warming
// seat whose job ended without making it warm (failed for good, cancelled)
// is freed, so no crash or failure leaks one.

// A legacy location (an original backend behind it) keeps no warm seats,
// nor does a workshop past its closing time (nobody can book it): their
// pools read as inactive, so their target is none. A workshop yet to open
// does keep them: the pool is ready when the doors open.
const warmPoolColumns = `w.id, w.slug, wl.location_id, l.name, w.warm,
	(w.active AND l.kind = 'agent' AND (w.closes_at IS NULL OR w.closes_at > $3)), w.content_version, w.capacity
	- (SELECT COUNT(*) FROM registrations r WHERE r.workshop_id = w.id AND r.rehearsal_id IS NULL AND r.state IN ` + holdingSQL + `),
	(SELECT COUNT(*) FROM seats s WHERE s.location_id = wl.location_id AND s.state = 'free'
		AND s.number BETWEEN ` + wlMin + ` AND ` + wlMax + `),
	(SELECT COUNT(*) FROM seats s WHERE s.warm_workshop_id = w.id AND s.location_id = wl.location_id AND s.state = 'warm'),
	(SELECT COUNT(*) FROM seats s WHERE s.warm_workshop_id = w.id AND s.location_id = wl.location_id AND s.state = 'warming'),
	(SELECT COUNT(*) FROM seats s WHERE s.warm_workshop_id = w.id AND s.location_id = wl.location_id AND s.state = 'warm'
		AND (s.warm_content_version <> w.content_version OR s.warmed_at < $1
		OR s.number NOT BETWEEN ` + wlMin + ` AND ` + wlMax + `)),
	(SELECT COUNT(*) FROM registrations r WHERE r.workshop_id = w.id AND r.location_id = wl.location_id
		AND r.rehearsal_id IS NULL AND r.created_at >= $2),
	` + wlMin + `, ` + wlMax

// The seat range of the workshop at a location of its (wl).
const (
	wlMin = `COALESCE(wl.seat_min, w.seat_min)`
	wlMax = `COALESCE(wl.seat_max, w.seat_max)`
)

const warmPoolFrom = ` FROM workshop_locations wl JOIN workshops w ON w.id = wl.workshop_id JOIN locations l ON l.id = wl.location_id`

func scanWarmPool(row scanner) (*wod.WarmPoolState, error) {
	var p wod.WarmPoolState
	var setting string
	if err := row.Scan(&p.WorkshopID, &p.Workshop, &p.LocationID, &p.Location, &setting, &p.Active, &p.Version,
		&p.CapacityLeft, &p.Free, &p.Warm, &p.Warming, &p.Stale, &p.Arrivals, &p.SeatMin, &p.SeatMax); err != nil {
		return nil, err
	}
	var err error
	if p.Setting, err = wod.ParseWarmPool(setting); err != nil {
		return nil, fmt.Errorf("workshop %s: %w", p.Workshop, err)
	}
	// Warm seats of the workshop are free for it too.
	p.Target = wod.WarmTarget(p.Setting, p.Active, p.Arrivals, max(0, p.CapacityLeft), p.Free+p.Warm+p.Warming)
	return &p, nil
}

func warmPoolArgs(now time.Time) []any {
	return []any{now.Add(-wod.WarmRecycleAfter), now.Add(-time.Hour), now}
}

// WarmPools lists the pools, one per workshop and location of its: every
// active workshop with a warm setting, and every workshop that still has
// warm or warming seats there.
func (db *DB) WarmPools(ctx context.Context) (ps []*wod.WarmPoolState, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		ps, err = queryAll(tx, scanWarmPool, `SELECT `+warmPoolColumns+warmPoolFrom+`
			WHERE (w.active AND w.warm <> '0') OR EXISTS (SELECT 1 FROM seats s WHERE s.warm_workshop_id = w.id
			AND s.location_id = wl.location_id AND s.state IN ('warm', 'warming')) ORDER BY w.slug, wl.position`,
			warmPoolArgs(tx.now)...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("warm pools: %w", err)
	}
	return ps, nil
}

// ReclaimWarming frees the seats left warming by a warm job that ended
// without making them warm (it failed for good or was cancelled), and
// returns how many.
func (db *DB) ReclaimWarming(ctx context.Context) (n int, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE seats SET state = 'free', `+clearWarm+`, updated_at = $1 WHERE state = 'warming'
			AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = seats.warm_job_id AND j.state IN ('queued', 'running'))`, tx.now)
		if err != nil {
			return err
		}
		// Warm seats of a workshop deleted, or no longer offered at the
		// seat's location: no pool looks after them.
		if _, err := tx.exec(`UPDATE seats SET state = 'free', `+clearWarm+`, updated_at = $1 WHERE state = 'warm'
			AND NOT EXISTS (SELECT 1 FROM workshop_locations wl WHERE wl.workshop_id = seats.warm_workshop_id
			AND wl.location_id = seats.location_id)`, tx.now); err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim warming seats: %w", err)
	}
	return n, nil
}

const clearWarm = `warm_workshop_id = NULL, warm_password_enc = NULL, warm_content_version = '', warm_job_id = NULL,
	warmed_at = NULL`

// KeepWarm brings one workshop's pool to its target in one transaction,
// under the workshop's lock (as bookings take it): warm seats beyond the
// target, or no longer in the workshop's range, go back to free (the
// agent's guard ends their servers: a free seat is nobody's); stale ones
// (another content version, or warm for a day) are made again; free seats
// of the range, highest first (out of the cold bookings' way, which take
// the lowest), are given warm jobs up to the target. It returns the pool
// as it leaves it and how many warm jobs it scheduled.
func (db *DB) KeepWarm(ctx context.Context, workshopID, locationID int64) (p *wod.WarmPoolState, scheduled int, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		var id int64
		if err := tx.queryRow(`SELECT id FROM workshops WHERE id = $1`+tx.forUpdate(), workshopID).Scan(&id); err != nil {
			return err
		}
		read := func() (*wod.WarmPoolState, error) {
			return scanWarmPool(tx.queryRow(`SELECT `+warmPoolColumns+warmPoolFrom+` WHERE w.id = $4 AND wl.location_id = $5`,
				append(warmPoolArgs(tx.now), workshopID, locationID)...))
		}
		if p, err = read(); err != nil {
			return err
		}
		seatMin, seatMax := p.SeatMin, p.SeatMax
		// Seats the workshop cannot book here (its range changed).
		if _, err := tx.exec(`UPDATE seats SET state = 'free', `+clearWarm+`, updated_at = $1 WHERE warm_workshop_id = $2
			AND state = 'warm' AND location_id = $3 AND number NOT BETWEEN $4 AND $5`,
			tx.now, workshopID, p.LocationID, seatMin, seatMax); err != nil {
			return err
		}
		type seat struct {
			id    int64
			stale bool
		}
		warm, err := queryAll(tx, func(row scanner) (seat, error) {
			var s seat
			return s, row.Scan(&s.id, &s.stale)
		}, `SELECT id, warm_content_version <> $1 OR warmed_at < $2 FROM seats WHERE warm_workshop_id = $3
			AND location_id = $4 AND state = 'warm' ORDER BY number DESC`, p.Version, tx.now.Add(-wod.WarmRecycleAfter),
			workshopID, p.LocationID)
		if err != nil {
			return err
		}
		// Excess: warm seats go first (stale ones before good ones), then
		// warming ones whose job has not started.
		excess := len(warm) + p.Warming - p.Target
		var keep []seat
		for _, s := range warm {
			if s.stale && excess > 0 {
				if err := freeWarm(tx, s.id); err != nil {
					return err
				}
				excess--
				continue
			}
			keep = append(keep, s)
		}
		for excess > 0 && len(keep) > 0 {
			if err := freeWarm(tx, keep[0].id); err != nil {
				return err
			}
			keep, excess = keep[1:], excess-1
		}
		if excess > 0 {
			res, err := tx.exec(`UPDATE jobs SET state = 'cancelled', updated_at = $1 WHERE state = 'queued' AND id IN
				(SELECT warm_job_id FROM seats WHERE warm_workshop_id = $2 AND location_id = $4 AND state = 'warming'
				ORDER BY number DESC LIMIT $3)`, tx.now, workshopID, excess, p.LocationID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if _, err := tx.exec(`UPDATE seats SET state = 'free', `+clearWarm+`, updated_at = $1 WHERE state = 'warming'
					AND warm_workshop_id = $2 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = seats.warm_job_id
					AND j.state IN ('queued', 'running'))`, tx.now, workshopID); err != nil {
					return err
				}
			}
		}
		for _, s := range keep {
			if !s.stale {
				continue
			}
			if err := warmSeat(tx, p, s.id, wod.SeatWarm); err != nil {
				return err
			}
			scheduled++
		}
		deficit := p.Target - len(warm) - p.Warming
		if deficit > 0 {
			lock := ""
			if tx.db.dialect == Postgres {
				lock = " FOR UPDATE SKIP LOCKED"
			}
			free, err := queryAll(tx, scanOne[int64], `SELECT id FROM seats WHERE location_id = $1 AND state = 'free'
				AND number BETWEEN $2 AND $3 ORDER BY number DESC LIMIT $4`+lock, p.LocationID, seatMin, seatMax, deficit)
			if err != nil {
				return err
			}
			for _, id := range free {
				if err := warmSeat(tx, p, id, wod.SeatFree); err != nil {
					return err
				}
				scheduled++
			}
		}
		p, err = read()
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("keep the warm pool of workshop %d at location %d: %w", workshopID, locationID, err)
	}
	return p, scheduled, nil
}

func freeWarm(tx *Tx, seatID int64) error {
	_, err := tx.exec(`UPDATE seats SET state = 'free', `+clearWarm+`, updated_at = $1 WHERE id = $2 AND state = 'warm'`,
		tx.now, seatID)
	return err
}

// warmSeat gives a free or warm seat a warm job for the pool's workshop.
func warmSeat(tx *Tx, p *wod.WarmPoolState, seatID int64, from wod.SeatState) error {
	args, err := json.Marshal(wod.WarmArgs{SeatID: seatID, Workshop: p.Workshop, Location: p.Location, ContentVersion: p.Version})
	if err != nil {
		return err
	}
	j := &wod.Job{Kind: wod.JobWarm, LocationID: &p.LocationID, Args: args}
	if err := insertJob(tx, j); err != nil {
		return err
	}
	res, err := tx.exec(`UPDATE seats SET state = 'warming', `+clearWarm+`, updated_at = $1 WHERE id = $2 AND state = $3`,
		tx.now, seatID, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("seat %d was taken under our lock", seatID)
	}
	_, err = tx.exec(`UPDATE seats SET warm_workshop_id = $1, warm_content_version = $2, warm_job_id = $3 WHERE id = $4`,
		p.WorkshopID, p.Version, j.ID, seatID)
	return err
}

// WarmJobSeat returns the number of the seat a warm job prepares, and
// false when the seat is no longer waiting for this job (it was taken or
// given back meanwhile): then the job has nothing left to do.
func (db *DB) WarmJobSeat(ctx context.Context, jobID int64) (number int, ok bool, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		err := tx.queryRow(`SELECT number FROM seats WHERE warm_job_id = $1 AND state = 'warming'`, jobID).Scan(&number)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("seat of warm job %d: %w", jobID, err)
	}
	return number, ok, nil
}

// WarmReady completes a warm job: its seat becomes warm with the password
// (sealed), if it is still waiting for this job; else the job is done and
// the seat left as it is.
func (db *DB) WarmReady(ctx context.Context, d *wod.JobCompletion, passwordEnc []byte) (warm bool, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE seats SET state = 'warm', warm_password_enc = $1, warmed_at = $2, updated_at = $2
			WHERE warm_job_id = $3 AND state = 'warming'`, passwordEnc, tx.now, d.JobID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		warm = n == 1
		return completeJob(tx, d)
	})
	if err != nil {
		return false, fmt.Errorf("warm job %d: %w", d.JobID, err)
	}
	return warm, nil
}
