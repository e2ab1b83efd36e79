package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wod-dev/wod"
)

const locationColumns = `id, name, hub_url, base_student_id, students, last_heartbeat, health, kernels, created_at, updated_at,
	kind, backend_email, backend_smtp`

func scanLocation(row scanner) (*wod.Location, error) {
	var l wod.Location
	var hb sql.NullTime
	var kernels sql.NullString
	if err := row.Scan(&l.ID, &l.Name, &l.HubURL, &l.BaseStudentID, &l.Students, &hb, &l.Health, &kernels,
		&l.CreatedAt, &l.UpdatedAt, &l.Kind, &l.BackendEmail, &l.BackendSMTP); err != nil {
		return nil, err
	}
	l.LastHeartbeat = timePtr(hb)
	if kernels.Valid {
		// A list that does not decode is as good as none reported.
		if json.Unmarshal([]byte(kernels.String), &l.Kernels) != nil || l.Kernels == nil {
			l.Kernels = []string{}
		}
	}
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return &l, nil
}

// FindLocations lists all locations by name.
func (db *DB) FindLocations(ctx context.Context) (ls []*wod.Location, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		ls, err = queryAll(tx, scanLocation, `SELECT `+locationColumns+` FROM locations ORDER BY name`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find locations: %w", err)
	}
	return ls, nil
}

// FindLocation returns the named location.
func (db *DB) FindLocation(ctx context.Context, name string) (l *wod.Location, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		l, err = findLocation(tx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find location %q: %w", name, err)
	}
	return l, nil
}

func findLocation(tx *Tx, name string) (*wod.Location, error) {
	l, err := scanLocation(tx.queryRow(`SELECT `+locationColumns+` FROM locations WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "location %s not found", name)
	}
	return l, err
}

// CreateLocation adds a location and its seats, all free.
func (db *DB) CreateLocation(ctx context.Context, l *wod.Location) error {
	l.Normalize()
	if err := l.Validate(); err != nil {
		return fmt.Errorf("create location %q: %w", l.Name, err)
	}
	err := db.transact(ctx, func(tx *Tx) error {
		l.CreatedAt, l.UpdatedAt = tx.now, tx.now
		err := tx.queryRow(`INSERT INTO locations (name, hub_url, base_student_id, students, created_at, updated_at,
			kind, backend_email, backend_smtp) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id`,
			l.Name, l.HubURL, l.BaseStudentID, l.Students, tx.now, l.Kind, l.BackendEmail, l.BackendSMTP).Scan(&l.ID)
		if isUniqueViolation(err, "locations_name_key") {
			return wod.Errorf(wod.ECONFLICT, "location %s already exists", l.Name)
		}
		if err != nil {
			return err
		}
		return addSeats(tx, l.ID, 1, l.Students)
	})
	if err != nil {
		return fmt.Errorf("create location %q: %w", l.Name, err)
	}
	return nil
}

// addSeats creates free seats from..to at a location, skipping existing ones.
func addSeats(tx *Tx, locationID int64, from, to int) error {
	if from > to {
		return nil
	}
	_, err := tx.exec(`WITH RECURSIVE n(x) AS (
			SELECT CAST($2 AS INTEGER) UNION ALL SELECT x + 1 FROM n WHERE x < CAST($3 AS INTEGER))
		INSERT INTO seats (location_id, number, state, updated_at)
		SELECT $1, x, 'free', $4 FROM n WHERE true
		ON CONFLICT (location_id, number) DO NOTHING`, locationID, from, to, tx.now)
	return err
}

// UpdateLocation changes a location. Growing its students adds free seats;
// shrinking removes free seats and is refused while a seat or a workshop's
// range lies above the new count.
func (db *DB) UpdateLocation(ctx context.Context, name string, upd wod.LocationUpdate) (l *wod.Location, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		l, err = findLocation(tx, name)
		if err != nil {
			return err
		}
		old := l.Students
		if upd.HubURL != nil {
			l.HubURL = *upd.HubURL
		}
		if upd.BaseStudentID != nil {
			l.BaseStudentID = *upd.BaseStudentID
		}
		if upd.Students != nil {
			l.Students = *upd.Students
		}
		if upd.Kind != nil && *upd.Kind != l.Kind {
			l.Kind = *upd.Kind
			// An original backend sends no heartbeat: the agent's last one
			// would soon make the location silent, and placement pass it
			// over. It is a location nobody has heard from.
			if _, err := tx.exec(`UPDATE locations SET last_heartbeat = NULL, health = '' WHERE id = $1`, l.ID); err != nil {
				return err
			}
			l.LastHeartbeat, l.Health = nil, ""
		}
		if upd.BackendEmail != nil {
			l.BackendEmail = *upd.BackendEmail
		}
		if upd.BackendSMTP != nil {
			l.BackendSMTP = *upd.BackendSMTP
		}
		l.Normalize()
		if err := l.Validate(); err != nil {
			return err
		}
		if l.Students < old {
			if err := shrinkSeats(tx, l); err != nil {
				return err
			}
		} else if err := addSeats(tx, l.ID, old+1, l.Students); err != nil {
			return err
		}
		l.UpdatedAt = tx.now
		_, err = tx.exec(`UPDATE locations SET hub_url = $1, base_student_id = $2, students = $3, updated_at = $4,
			kind = $6, backend_email = $7, backend_smtp = $8 WHERE id = $5`,
			l.HubURL, l.BaseStudentID, l.Students, tx.now, l.ID, l.Kind, l.BackendEmail, l.BackendSMTP)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update location %q: %w", name, err)
	}
	return l, nil
}

func shrinkSeats(tx *Tx, l *wod.Location) error {
	var taken int
	if err := tx.queryRow(`SELECT COUNT(*) FROM seats WHERE location_id = $1 AND number > $2 AND state <> 'free'`,
		l.ID, l.Students).Scan(&taken); err != nil {
		return err
	}
	if taken > 0 {
		return wod.Errorf(wod.ECONFLICT, "%d seats above student%d are in use; wait for them to be freed", taken, l.Students)
	}
	var slug string
	err := tx.queryRow(`SELECT w.slug FROM workshops w JOIN workshop_locations wl ON wl.workshop_id = w.id
		WHERE wl.location_id = $1 AND COALESCE(wl.seat_max, w.seat_max) > $2 ORDER BY w.slug LIMIT 1`,
		l.ID, l.Students).Scan(&slug)
	if err == nil {
		return wod.Errorf(wod.ECONFLICT, "workshop %s uses seats above student%d; change its range first", slug, l.Students)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err = tx.exec(`DELETE FROM seats WHERE location_id = $1 AND number > $2`, l.ID, l.Students)
	return err
}

// DeleteLocation removes a location that no workshop uses.
func (db *DB) DeleteLocation(ctx context.Context, name string) error {
	err := db.transact(ctx, func(tx *Tx) error {
		l, err := findLocation(tx, name)
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(`SELECT COUNT(*) FROM workshop_locations WHERE location_id = $1`, l.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return wod.Errorf(wod.ECONFLICT, "location %s is used by %d workshops; move or delete them first", name, n)
		}
		// Seats still held belong to participants (or wait for a reset):
		// removing their location would leave accounts nobody cleans.
		if err := tx.queryRow(`SELECT COUNT(*) FROM seats WHERE location_id = $1 AND state <> 'free'`, l.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return wod.Errorf(wod.ECONFLICT, "location %s holds %d seats (in use, or kept for a reset); wait for them to be freed or reset them first", name, n)
		}
		if err := tx.queryRow(`SELECT COUNT(*) FROM registrations WHERE location_id = $1`, l.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return wod.Errorf(wod.ECONFLICT, "location %s has %d registrations in its history", name, n)
		}
		_, err = tx.exec(`DELETE FROM locations WHERE id = $1`, l.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete location %q: %w", name, err)
	}
	return nil
}

// SetLocationAgentToken stores the hash of the location's agent token.
func (db *DB) SetLocationAgentToken(ctx context.Context, name string, hash []byte) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE locations SET agent_token_hash = $1, updated_at = $2 WHERE name = $3`, hash, tx.now, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wod.Errorf(wod.ENOTFOUND, "location %s not found", name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set agent token of %q: %w", name, err)
	}
	return nil
}

// SetLocationKernels stores the Jupyter kernels the location's agent found
// on its hub's host (kernelspec names; stored lower-cased, sorted, once
// each). A nil list is stored as an empty one: the agent has spoken.
func (db *DB) SetLocationKernels(ctx context.Context, locationID int64, kernels []string) error {
	names := make([]string, 0, len(kernels))
	for _, k := range kernels {
		names = append(names, strings.ToLower(k))
	}
	slices.Sort(names)
	data, err := json.Marshal(slices.Compact(names))
	if err != nil {
		return fmt.Errorf("set kernels of location %d: %w", locationID, err)
	}
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE locations SET kernels = $1 WHERE id = $2`, string(data), locationID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wod.Errorf(wod.ENOTFOUND, "location %d not found", locationID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set kernels of location %d: %w", locationID, err)
	}
	return nil
}
