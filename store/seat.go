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
		rows, err := tx.query(`SELECT s.id, s.location_id, l.name, l.base_student_id, s.number, s.state, s.registration_id
			FROM `+from+w.String()+` ORDER BY l.name, s.number`+w.page(f.Page), w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s wod.Seat
			var base int
			var reg sql.NullInt64
			if err := rows.Scan(&s.ID, &s.LocationID, &s.Location, &base, &s.Number, &s.State, &reg); err != nil {
				return err
			}
			s.StudentID = base + s.Number
			s.Username = wod.StudentUsername(s.Number)
			s.RegistrationID = int64Ptr(reg)
			seats = append(seats, &s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find seats: %w", err)
	}
	return seats, total, nil
}

// HeldSeats lists the numbers of the location's seats that belong to a
// registration.
func (db *DB) HeldSeats(ctx context.Context, locationID int64) (held []int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT number FROM seats WHERE location_id = $1 AND state <> 'free' ORDER BY number`, locationID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			held = append(held, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("held seats: %w", err)
	}
	return held, nil
}
