package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
)

// workshopLocationsSQL is the column of workshopColumns that lists the
// workshop's locations in their order, one line each: "ID MIN MAX NAME",
// "-" for a range of its own that is not set. One column of the workshop's
// row rather than a second query: a workshop is read in one statement,
// outside a transaction (string_agg is PostgreSQL's and, since 3.44,
// SQLite's; a location's name has no space and no line break).
const workshopLocationsSQL = `(SELECT string_agg(CAST(wl.location_id AS TEXT) || ' ' ||
	COALESCE(CAST(wl.seat_min AS TEXT), '-') || ' ' || COALESCE(CAST(wl.seat_max AS TEXT), '-') || ' ' || ll.name, '` + "\n" + `'
	ORDER BY wl.position) FROM workshop_locations wl JOIN locations ll ON ll.id = wl.location_id WHERE wl.workshop_id = w.id)`

// parseWorkshopLocations fills the workshop's locations from the column
// of workshopLocationsSQL. A workshop with no row (none should have one)
// keeps its first location alone.
func parseWorkshopLocations(w *wod.Workshop, list string) error {
	w.LocationIDs, w.Locations, w.LocationRanges = nil, nil, nil
	for line := range strings.SplitSeq(list, "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			return fmt.Errorf("workshop %s: location %q: want ID MIN MAX NAME", w.Slug, line)
		}
		id, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("workshop %s: location %q: %w", w.Slug, line, err)
		}
		var rng wod.SeatRange
		if f[1] != "-" && f[2] != "-" {
			lo, err1 := strconv.Atoi(f[1])
			hi, err2 := strconv.Atoi(f[2])
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("workshop %s: location %q: %w", w.Slug, line, err)
			}
			rng = wod.SeatRange{Min: lo, Max: hi}
		}
		w.LocationIDs = append(w.LocationIDs, id)
		w.LocationRanges = append(w.LocationRanges, rng)
		w.Locations = append(w.Locations, wod.LocationSpec(f[3], rng))
	}
	if len(w.LocationIDs) == 0 {
		w.LocationIDs, w.Locations, w.LocationRanges = []int64{w.LocationID}, []string{w.Location}, []wod.SeatRange{{}}
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
