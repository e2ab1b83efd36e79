package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wod-dev/wod"
)

// FindSeats lists seats by location and number.
func (db *DB) FindSeats(ctx context.Context, f wod.SeatFilter) (seats []*wod.Seat, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.LocationID != nil {
			w.add("s.location_id = ?", *f.LocationID)
		}
		if f.State != nil {
			w.add("s.state = ?", *f.State)
		}
		from := `seats s JOIN locations l ON l.id = s.location_id`
		if total, err = count(tx, from, &w); err != nil {
			return err
		}
		seats, err = queryAll(tx, func(row scanner) (*wod.Seat, error) {
			var s wod.Seat
			var base int
			var reg sql.NullInt64
			var warmFor sql.NullString
			var warmedAt sql.NullTime
			if err := row.Scan(&s.ID, &s.LocationID, &s.Location, &base, &s.Number, &s.State, &reg, &warmFor, &warmedAt); err != nil {
				return nil, err
			}
			s.WarmWorkshop, s.WarmedAt = warmFor.String, timePtr(warmedAt)
			s.StudentID = base + s.Number
			s.Username = wod.StudentUsername(s.Number)
			s.RegistrationID = int64Ptr(reg)
			return &s, nil
		}, `SELECT s.id, s.location_id, l.name, l.base_student_id, s.number, s.state, s.registration_id,
			(SELECT slug FROM workshops ww WHERE ww.id = s.warm_workshop_id), s.warmed_at
			FROM `+from+w.String()+` ORDER BY l.name, s.number`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find seats: %w", err)
	}
	return seats, total, nil
}

// WarmSeats lists the numbers of the location's warm seats (made for a
// workshop's pool, not yet taken): the agent keeps their servers running.
func (db *DB) WarmSeats(ctx context.Context, locationID int64) (warm []int, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		var err error
		warm, err = queryAll(tx, scanOne[int], `SELECT number FROM seats WHERE location_id = $1 AND state = 'warm' ORDER BY number`, locationID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("warm seats: %w", err)
	}
	return warm, nil
}

// HeldSeats lists the numbers of the location's seats that belong to a
// registration, or to a warm pool (warming, warm): the agent's guard
// spares their processes, a warm seat's server included.
func (db *DB) HeldSeats(ctx context.Context, locationID int64) (held []int, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		var err error
		held, err = queryAll(tx, scanOne[int], `SELECT number FROM seats WHERE location_id = $1 AND state <> 'free' ORDER BY number`, locationID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("held seats: %w", err)
	}
	return held, nil
}
