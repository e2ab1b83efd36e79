package store

import (
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
		w.LocationIDs, w.Locations = nil, nil
	}
	var wh where
	wh.add(inList("wl.workshop_id", len(args)), args...)
	type row struct {
		workshop, location int64
		name               string
	}
	rows, err := queryAll(tx, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.workshop, &r.location, &r.name)
	}, `SELECT wl.workshop_id, wl.location_id, l.name FROM workshop_locations wl JOIN locations l ON l.id = wl.location_id`+
		wh.String()+` ORDER BY wl.workshop_id, wl.position`, wh.args...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		w := byID[r.workshop]
		w.LocationIDs = append(w.LocationIDs, r.location)
		w.Locations = append(w.Locations, r.name)
	}
	for _, w := range ws {
		if len(w.LocationIDs) == 0 {
			w.LocationIDs, w.Locations = []int64{w.LocationID}, []string{w.Location}
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
		if _, err := tx.exec(`INSERT INTO workshop_locations (workshop_id, location_id, position) VALUES ($1, $2, $3)`,
			w.ID, id, i); err != nil {
			return err
		}
	}
	return nil
}
