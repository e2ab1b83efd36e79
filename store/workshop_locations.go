package store

import (
	"database/sql"

	"github.com/wod-dev/wod"
)

// loadWorkshopLocations fills each workshop's locations, in their order, in
// one query. A workshop with no row (none should have one) keeps its
// first location alone.
func loadWorkshopLocations(tx *Tx, ws ...*wod.Workshop) error {
	if len(ws) == 0 {
		return nil
	}
	byID := make(map[int64]*wod.Workshop, len(ws))
	args := make([]any, 0, len(ws))
	for _, w := range ws {
		byID[w.ID] = w
		args = append(args, w.ID)
		w.LocationIDs, w.Locations, w.LocationRanges = nil, nil, nil
	}
	var wh where
	wh.add(inList("wl.workshop_id", len(args)), args...)
	type row struct {
		workshop, location int64
		name               string
		min, max           sql.NullInt64
	}
	rows, err := queryAll(tx, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.workshop, &r.location, &r.name, &r.min, &r.max)
	}, `SELECT wl.workshop_id, wl.location_id, l.name, wl.seat_min, wl.seat_max
		FROM workshop_locations wl JOIN locations l ON l.id = wl.location_id`+
		wh.String()+` ORDER BY wl.workshop_id, wl.position`, wh.args...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		w := byID[r.workshop]
		var rng wod.SeatRange
		if r.min.Valid && r.max.Valid {
			rng = wod.SeatRange{Min: int(r.min.Int64), Max: int(r.max.Int64)}
		}
		w.LocationIDs = append(w.LocationIDs, r.location)
		w.LocationRanges = append(w.LocationRanges, rng)
		w.Locations = append(w.Locations, wod.LocationSpec(r.name, rng))
	}
	for _, w := range ws {
		if len(w.LocationIDs) == 0 {
			w.LocationIDs, w.Locations, w.LocationRanges = []int64{w.LocationID}, []string{w.Location}, []wod.SeatRange{{}}
		}
	}
	return nil
}

// saveWorkshopLocations writes the workshop's list of locations, the
// first at position 0 (the workshop's location_id).
func saveWorkshopLocations(tx *Tx, w *wod.Workshop) error {
	if _, err := tx.exec(`DELETE FROM workshop_locations WHERE workshop_id = $1`, w.ID); err != nil {
		return err
	}
	for i, id := range w.LocationIDs {
		var lo, hi sql.NullInt64
		if r := w.SeatsAt(id); i < len(w.LocationRanges) && !w.LocationRanges[i].IsZero() {
			lo, hi = sql.NullInt64{Int64: int64(r.Min), Valid: true}, sql.NullInt64{Int64: int64(r.Max), Valid: true}
		}
		if _, err := tx.exec(`INSERT INTO workshop_locations (workshop_id, location_id, position, seat_min, seat_max)
			VALUES ($1, $2, $3, $4, $5)`, w.ID, id, i, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// freeSeatsSQL counts the free seats of workshop w (its warm seats are free for it) (the alias in the
// enclosing query) over all its locations, each in its own range.
const freeSeatsSQL = `(SELECT COUNT(*) FROM workshop_locations wl JOIN seats s ON s.location_id = wl.location_id
	WHERE wl.workshop_id = w.id AND (s.state = 'free' OR (s.state = 'warm' AND s.warm_workshop_id = w.id))
	AND s.number BETWEEN COALESCE(wl.seat_min, w.seat_min) AND COALESCE(wl.seat_max, w.seat_max))`
