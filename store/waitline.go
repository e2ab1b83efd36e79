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

// The waiting line. A participant who finds a workshop full may wait: the
// registration is inserted waiting, holding its address but no seat. Every
// transaction that frees a seat (moveSeat) or lets a workshop take more
// (updateWorkshop: capacity, range, activation) serves the line before it
// commits, so a seat never sits free while someone it fits waits, and a
// crash can never lose a handover half-done.

// joinLine inserts a waiting registration when the request allows waiting,
// or answers EFULL saying that it could have. A wait ends at the
// workshop's closing time at the latest (wod.WaitDeadline): the end of the
// wait the request brings is moved there when it falls later.
func joinLine(tx *Tx, nr *wod.NewRegistration, workshopID, locationID int64, closes time.Time, why string) (*wod.Registration, error) {
	if nr.Wait == nil {
		return nil, &wod.Error{Code: wod.EFULL, Message: why +
			"; you can join its waiting line (and get the next free seat) or try again later"}
	}
	req := nr.Request
	var id int64
	if err := tx.queryRow(`INSERT INTO registrations (workshop_id, name, email, company, state, location_id,
		client_ip, created_at, updated_at, waiting_since, provision_seconds)
		VALUES ($1, $2, $3, $4, 'waiting', $5, $6, $7, $7, $7, $8) RETURNING id`,
		workshopID, req.Name, req.Email, req.Company, locationID, req.ClientIP, tx.now,
		int64(nr.Wait.ProvisionTimeout/time.Second)).Scan(&id); err != nil {
		return nil, err
	}
	for _, j := range nr.Wait.Jobs {
		j.RegistrationID = &id
		if j.Kind == wod.JobWaitExpire {
			j.RunAt = wod.WaitDeadline(j.RunAt, closes)
		}
		if err := insertJob(tx, j); err != nil {
			return nil, err
		}
	}
	for _, m := range nr.Wait.Mails {
		m.RegistrationID = &id
		if err := insertMail(tx, m); err != nil {
			return nil, err
		}
	}
	if g := req.Launch; g != nil {
		l := *g
		l.RegistrationID = id
		if err := saveLTILaunch(tx, &l); err != nil {
			return nil, err
		}
	}
	return findRegistration(tx, id)
}

// lockSeatWorkshops locks, before a seat is freed, the workshops whose
// range holds it (on PostgreSQL; SQLite's writer is alone anyway). A
// registration that finds its workshop full and joins the line holds the
// workshop's row while it looks at the seats: without this lock, it could
// read the seat as still taken while this transaction, not yet seeing the
// new waiter, frees it, and the seat would stay free while they wait.
func lockSeatWorkshops(tx *Tx, seatID int64) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	_, err := queryAll(tx, scanOne[int64], `SELECT w.id FROM workshops w JOIN workshop_locations wl ON wl.workshop_id = w.id
		JOIN seats s ON s.location_id = wl.location_id
		AND s.number BETWEEN COALESCE(wl.seat_min, w.seat_min) AND COALESCE(wl.seat_max, w.seat_max)
		WHERE s.id = $1 ORDER BY w.id FOR UPDATE OF w`, seatID)
	return err
}

type waiter struct {
	id, workshopID int64
}

// serveLine hands the location's free seats to its waiters, first come
// first served: each waiter, in the order they joined, gets the lowest free
// seat of their workshop's range if the workshop is active and below its
// capacity. Seats of a range can be shared by workshops, so the line is the
// location's, not a workshop's. Returns how many seats it handed over.
func serveLine(tx *Tx, locationID int64) (int, error) {
	waiters, err := queryAll(tx, func(row scanner) (waiter, error) {
		var w waiter
		return w, row.Scan(&w.id, &w.workshopID)
	}, `SELECT r.id, r.workshop_id FROM registrations r JOIN workshops w ON w.id = r.workshop_id
		JOIN workshop_locations wl ON wl.workshop_id = w.id AND wl.location_id = $1
		WHERE r.state = 'waiting' AND w.active ORDER BY r.waiting_since, r.id`, locationID)
	if err != nil || len(waiters) == 0 {
		return 0, err
	}
	served := 0
	// A workshop found full (or without a free seat) stays so for the rest
	// of this pass: nothing here frees one.
	done := map[int64]bool{}
	for _, wt := range waiters {
		if done[wt.workshopID] {
			continue
		}
		got, err := handOver(tx, wt, locationID)
		if err != nil {
			return served, fmt.Errorf("hand a seat to waiting registration %d: %w", wt.id, err)
		}
		switch got {
		case seated:
			served++
		case noRoom:
			done[wt.workshopID] = true
		}
	}
	return served, nil
}

type handover int

const (
	seated handover = iota // the waiter got a seat
	gone                   // the waiter no longer waits
	noRoom                 // the workshop is full, closed or out of seats
)

// handOver gives one waiter a seat if their workshop has room.
// The workshop row is locked first, as createRegistration does, so that
// the capacity check and the booking are one; then the waiter, so that two
// transactions freeing seats at once never give both to the same waiter
// (the second finds them pending and moves on).
func handOver(tx *Tx, wt waiter, locationID int64) (handover, error) {
	var w struct {
		capacity, seatMin, seatMax int64
		active                     bool
		opens, closes              sql.NullTime
	}
	if err := tx.queryRow(`SELECT capacity, seat_min, seat_max, active, opens_at, closes_at FROM workshops WHERE id = $1`+
		tx.forUpdate(), wt.workshopID).Scan(&w.capacity, &w.seatMin, &w.seatMax, &w.active, &w.opens, &w.closes); err != nil {
		return noRoom, err
	}
	// Outside its dates the workshop seats nobody: after closing, its
	// waiters' waits end (their wait-expire is due at the closing time).
	dates := wod.Workshop{Active: w.active, Opens: dateOf(w.opens), Closes: dateOf(w.closes)}
	if !dates.Bookable(tx.now) {
		return noRoom, nil
	}
	// The workshop's range at this location (a location may have its own).
	var lmin, lmax sql.NullInt64
	err := tx.queryRow(`SELECT seat_min, seat_max FROM workshop_locations WHERE workshop_id = $1 AND location_id = $2`,
		wt.workshopID, locationID).Scan(&lmin, &lmax)
	if errors.Is(err, sql.ErrNoRows) {
		return noRoom, nil // no longer offered here
	}
	if err != nil {
		return noRoom, err
	}
	if lmin.Valid && lmax.Valid {
		w.seatMin, w.seatMax = lmin.Int64, lmax.Int64
	}
	var held int64
	if err := tx.queryRow(`SELECT COUNT(*) FROM registrations WHERE workshop_id = $1 AND rehearsal_id IS NULL
		AND state IN `+holdingSQL, wt.workshopID).Scan(&held); err != nil {
		return noRoom, err
	}
	if held >= w.capacity {
		return noRoom, nil
	}
	var state wod.RegistrationState
	var provision int64
	if err := tx.queryRow(`SELECT state, provision_seconds FROM registrations WHERE id = $1`+tx.forUpdate(), wt.id).
		Scan(&state, &provision); err != nil {
		return noRoom, err
	}
	if state != wod.StateWaiting {
		// Served, or gone, by a transaction that committed meanwhile; the
		// workshop may still have room for the next waiter.
		return gone, nil
	}
	lock := ""
	if tx.db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var seatID int64
	var number int
	err = tx.queryRow(`SELECT id, number FROM seats WHERE location_id = $1 AND state = 'free'
		AND number BETWEEN $2 AND $3 ORDER BY number LIMIT 1`+lock, locationID, w.seatMin, w.seatMax).Scan(&seatID, &number)
	if errors.Is(err, sql.ErrNoRows) {
		return noRoom, nil
	}
	if err != nil {
		return noRoom, err
	}
	res, err := tx.exec(`UPDATE seats SET state = 'assigned', registration_id = $1, updated_at = $2
		WHERE id = $3 AND state = 'free'`, wt.id, tx.now, seatID)
	if err != nil {
		return noRoom, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return noRoom, fmt.Errorf("seat %d was taken under our lock", seatID)
	}
	if _, err := tx.exec(`UPDATE registrations SET state = 'pending', seat_id = $1, location_id = $2, student_number = $3,
		seated_at = $4, updated_at = $4 WHERE id = $5`, seatID, locationID, number, tx.now, wt.id); err != nil {
		return noRoom, err
	}
	if provision <= 0 {
		provision = int64(defaultProvision / time.Second) // a waiter recorded without one
	}
	// What Register schedules for a seat booked at once, and the end of
	// the wait's own timers.
	if _, err := tx.exec(`UPDATE jobs SET state = 'cancelled', updated_at = $1 WHERE registration_id = $2
		AND state = 'queued' AND kind IN ('wait-expire', 'wait-notice')`, tx.now, wt.id); err != nil {
		return noRoom, err
	}
	if err := scheduleJobs(tx, wt.id, []*wod.Job{
		{Kind: wod.JobCreate, RunAt: tx.now, LocationID: &locationID},
		{Kind: wod.JobWatchdog, RunAt: tx.now.Add(time.Duration(provision) * time.Second), LocationID: &locationID},
	}); err != nil {
		return noRoom, err
	}
	return seated, recordEvent(tx, &wod.Event{Actor: "system", Kind: "registration.seated",
		Subject: fmt.Sprintf("registration:%d", wt.id), Detail: "a seat came free: " + wod.StudentUsername(number)})
}

// closeLine makes the wait-expire timers of a workshop's waiters due by
// at: now for an inactive or closed workshop, its closing time for one
// that closes later. The engine ends their waits, with the mail that says
// so (and snoozes a timer made due early by a closing time moved later).
func closeLine(tx *Tx, workshopID int64, at time.Time) error {
	_, err := tx.exec(`UPDATE jobs SET run_at = $1, updated_at = $2 WHERE kind = 'wait-expire' AND state = 'queued'
		AND run_at > $1 AND registration_id IN (SELECT id FROM registrations WHERE workshop_id = $3 AND state = 'waiting')`,
		at, tx.now, workshopID)
	return err
}

// workshopChanged serves the line of a workshop an operator or an import
// changed (more capacity, a wider range, reactivated), or closes it when
// the workshop no longer takes participants. A closing time bounds every
// wait (wod.WaitDeadline), whenever it is set.
func workshopChanged(tx *Tx, w *wod.Workshop) error {
	if !w.Active || w.Closed(tx.now) {
		return closeLine(tx, w.ID, tx.now)
	}
	if !w.Closes.IsZero() {
		if err := closeLine(tx, w.ID, w.Closes); err != nil {
			return err
		}
	}
	// Every location the workshop is offered at may now have room for it.
	ids, err := queryAll(tx, scanOne[int64], `SELECT location_id FROM workshop_locations WHERE workshop_id = $1
		ORDER BY position`, w.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := serveLine(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// defaultProvision is the engine's default provision timeout, for a waiter
// whose own was not recorded.
const defaultProvision = 10 * time.Minute

// defaultCleanup stands for the cleanup time until some was measured.
const defaultCleanup = 30 * time.Second

// WaitEstimate guesses when a waiting registration gets its seat (see
// wod.EstimateWait): the workshop's held seats come back when their
// sessions end plus the location's recent cleanup time (the mean of its
// last 20 cleanups, as the agent measured them).
func (db *DB) WaitEstimate(ctx context.Context, r *wod.Registration) (at time.Time, ok bool, err error) {
	if r.State != wod.StateWaiting || r.Place < 1 {
		return time.Time{}, false, nil
	}
	err = db.read(ctx, func(tx *Tx) error {
		var duration, locationID int64
		if err := tx.queryRow(`SELECT duration_seconds, location_id FROM workshops WHERE id = $1`, r.WorkshopID).
			Scan(&duration, &locationID); err != nil {
			return err
		}
		cleanup, err := cleanupTime(tx, locationID)
		if err != nil {
			return err
		}
		session := time.Duration(duration) * time.Second
		type holder struct {
			state   wod.RegistrationState
			endsAt  sql.NullTime
			endedAt sql.NullTime
		}
		hs, err := queryAll(tx, func(row scanner) (holder, error) {
			var h holder
			return h, row.Scan(&h.state, &h.endsAt, &h.endedAt)
		}, `SELECT state, ends_at, ended_at FROM registrations WHERE workshop_id = $1 AND rehearsal_id IS NULL
			AND state IN `+holdingSQL, r.WorkshopID)
		if err != nil {
			return err
		}
		frees := make([]time.Time, 0, len(hs))
		for _, h := range hs {
			switch {
			case h.state == wod.StateEnding:
				frees = append(frees, tx.now.Add(cleanup))
			case h.endsAt.Valid:
				frees = append(frees, h.endsAt.Time.UTC().Add(cleanup))
			default: // pending: the clock has not started
				frees = append(frees, tx.now.Add(session+cleanup))
			}
		}
		at, ok = wod.EstimateWait(frees, r.Place, session+cleanup, tx.now)
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("estimate the wait of registration %d: %w", r.ID, err)
	}
	return at, ok, nil
}

// cleanupTime is the mean of the location's last 20 cleanups.
func cleanupTime(tx *Tx, locationID int64) (time.Duration, error) {
	results, err := queryAll(tx, func(row scanner) (string, error) {
		var s string
		return s, row.Scan(&s)
	}, `SELECT result FROM jobs WHERE kind = 'cleanup' AND state = 'done' AND location_id = $1
		ORDER BY id DESC LIMIT 20`, locationID)
	if err != nil {
		return 0, err
	}
	var sum float64
	n := 0
	for _, s := range results {
		var res struct {
			Seconds float64 `json:"seconds"`
		}
		if json.Unmarshal([]byte(s), &res) == nil && res.Seconds > 0 {
			sum += res.Seconds
			n++
		}
	}
	if n == 0 {
		return defaultCleanup, nil
	}
	return time.Duration(sum / float64(n) * float64(time.Second)), nil
}
