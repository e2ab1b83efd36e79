package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

var _ wod.StatsService = (*DB)(nil)

// Dashboard limits: the page shows the latest, not the history.
const (
	dashboardFailingJobs = 50
	dashboardGuardEvents = 20
)

// failingJobSQL selects the jobs an operator should look at: given up (and
// not dismissed), or being retried (a second attempt, or an error left by
// the last one).
const failingJobSQL = `(state = 'failed' AND dismissed_at IS NULL) OR (state IN ('queued', 'running') AND (attempts > 1 OR last_error <> ''))`

// Dashboard reads the operators' overview in one transaction, so that its
// numbers agree with each other.
func (db *DB) Dashboard(ctx context.Context) (d *wod.Dashboard, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		d = &wod.Dashboard{}
		for _, step := range []func(*Tx, *wod.Dashboard) error{
			dashboardStates, dashboardWorkshops, dashboardLocations, dashboardJobs, dashboardGuard,
		} {
			if err := step(tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}

func dashboardStates(tx *Tx, d *wod.Dashboard) error {
	d.ByState = map[wod.RegistrationState]int{}
	for _, s := range []wod.RegistrationState{wod.StateWaiting, wod.StatePending, wod.StateReady, wod.StateExpiring,
		wod.StateEnding, wod.StateDone, wod.StateFailed, wod.StateLeft} {
		d.ByState[s] = 0
	}
	// A finished registration is last updated by the step that finished it;
	// the live ones (waiters included) and those holding seats all count.
	if err := countBy(tx, `SELECT state, COUNT(*) FROM registrations WHERE rehearsal_id IS NULL AND (state IN `+holdingSQL+
		` OR state IN `+liveSQL+` OR updated_at >= $1) GROUP BY state`, d.ByState, tx.now.Add(-24*time.Hour)); err != nil {
		return fmt.Errorf("registrations by state: %w", err)
	}
	return nil
}

func dashboardWorkshops(tx *Tx, d *wod.Dashboard) error {
	// Free is derived as in the catalogue (scanWorkshop): bounded both by
	// the capacity left and by the free seats of the range, which
	// workshops with overlapping ranges share.
	loads, err := queryAll(tx, func(row scanner) (wod.WorkshopLoad, error) {
		var l wod.WorkshopLoad
		var free int
		var pool string
		if err := row.Scan(&l.Slug, &l.Title, &l.Location, &l.Active, &l.Capacity, &l.Taken, &free, &l.Dirty,
			&l.Warm, &l.Warming, &pool); err != nil {
			return l, err
		}
		var err error
		if l.Pool, err = wod.ParseWarmPool(pool); err != nil {
			return l, err
		}
		l.Free = max(0, min(l.Capacity-l.Taken, free))
		return l, nil
	}, `SELECT w.slug, w.title, l.name, w.active, w.capacity,
		(SELECT COUNT(*) FROM registrations r WHERE r.workshop_id = w.id AND r.rehearsal_id IS NULL AND r.state IN `+holdingSQL+`),
		`+freeSeatsSQL+`,
		(SELECT COUNT(*) FROM workshop_locations wl JOIN seats s ON s.location_id = wl.location_id
			WHERE wl.workshop_id = w.id AND s.state = 'dirty'
			AND s.number BETWEEN COALESCE(wl.seat_min, w.seat_min) AND COALESCE(wl.seat_max, w.seat_max)),
		(SELECT COUNT(*) FROM seats s WHERE s.warm_workshop_id = w.id AND s.state = 'warm'),
		(SELECT COUNT(*) FROM seats s WHERE s.warm_workshop_id = w.id AND s.state = 'warming'),
		w.warm
		FROM `+workshopFrom+` ORDER BY w.priority, w.slug`)
	if err != nil {
		return fmt.Errorf("workshop seats: %w", err)
	}
	d.Workshops = append(d.Workshops, loads...)
	return nil
}

func dashboardLocations(tx *Tx, d *wod.Dashboard) error {
	ls, err := queryAll(tx, scanLocation, `SELECT `+locationColumns+` FROM locations ORDER BY name`)
	if err != nil {
		return fmt.Errorf("locations: %w", err)
	}
	d.Locations = append(d.Locations, ls...)
	return nil
}

func dashboardJobs(tx *Tx, d *wod.Dashboard) error {
	if err := tx.queryRow(`SELECT COUNT(*) FROM jobs WHERE ` + failingJobSQL).Scan(&d.FailingJobsTotal); err != nil {
		return fmt.Errorf("count failing jobs: %w", err)
	}
	js, err := queryJobs(tx, `SELECT `+jobColumns+` FROM jobs WHERE `+failingJobSQL+
		` ORDER BY updated_at DESC, id DESC LIMIT $1`, dashboardFailingJobs)
	if err != nil {
		return fmt.Errorf("failing jobs: %w", err)
	}
	d.FailingJobs = append(d.FailingJobs, js...)
	return nil
}

func dashboardGuard(tx *Tx, d *wod.Dashboard) error {
	es, err := queryAll(tx, scanEvent, `SELECT `+eventColumns+` FROM events WHERE kind >= 'guard.' AND kind < 'guard/'
		ORDER BY id DESC LIMIT $1`, dashboardGuardEvents)
	if err != nil {
		return fmt.Errorf("guard events: %w", err)
	}
	d.GuardEvents = append(d.GuardEvents, es...)
	return nil
}

// completionBucketSQL puts a completion % in its tenth; 100 (and anything
// out of range, which the agent never reports) stays in the end buckets.
const completionBucketSQL = `CASE WHEN r.completion >= 90 THEN 9 WHEN r.completion < 0 THEN 0 ELSE r.completion / 10 END`

// WorkshopStats lists every workshop, by slug, with what became of the
// registrations made since the time.
func (db *DB) WorkshopStats(ctx context.Context, since time.Time) (out []wod.WorkshopStats, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		// The period goes in the join, not a WHERE, so that a workshop
		// without registrations still has its row of zeros. Who left the
		// waiting line without a seat never took part: not counted.
		index := map[int64]int{}
		err := queryEach(tx, func(row scanner) error {
			var id, sum, measured int64
			var s wod.WorkshopStats
			if err := row.Scan(&id, &s.Slug, &s.Title, &s.Registrations, &s.Finished, &s.Failed, &sum, &measured); err != nil {
				return err
			}
			if measured > 0 {
				avg := float64(sum) / float64(measured)
				s.AverageCompletion = &avg
			}
			index[id] = len(out)
			out = append(out, s)
			return nil
		}, `SELECT w.id, w.slug, w.title, COUNT(r.id),
			COUNT(CASE WHEN r.state = 'done' THEN 1 END), COUNT(CASE WHEN r.state = 'failed' THEN 1 END),
			COALESCE(SUM(CASE WHEN r.state = 'done' THEN r.completion END), 0),
			COUNT(CASE WHEN r.state = 'done' THEN r.completion END)
			FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id AND r.created_at >= $1 AND r.rehearsal_id IS NULL
				AND r.state <> 'left'
			GROUP BY w.id, w.slug, w.title ORDER BY w.slug`, since.UTC())
		if err != nil {
			return fmt.Errorf("per workshop: %w", err)
		}

		err = queryEach(tx, func(row scanner) error {
			var id int64
			var bucket, n int
			if err := row.Scan(&id, &bucket, &n); err != nil {
				return err
			}
			if i, ok := index[id]; ok && bucket >= 0 && bucket < len(out[i].Completion) {
				out[i].Completion[bucket] = n
			}
			return nil
		}, `SELECT r.workshop_id, `+completionBucketSQL+`, COUNT(*) FROM registrations r
			WHERE r.state = 'done' AND r.completion IS NOT NULL AND r.created_at >= $1 AND r.rehearsal_id IS NULL GROUP BY 1, 2`, since.UTC())
		if err != nil {
			return fmt.Errorf("completion histogram: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("workshop stats: %w", err)
	}
	return out, nil
}

// RegistrationsPerDay counts the registrations of every UTC day from the
// day of since to today, days without any included.
func (db *DB) RegistrationsPerDay(ctx context.Context, since time.Time, workshop *string) (out []wod.DayCount, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		w.add("r.created_at >= ?", since.UTC())
		w.add("r.rehearsal_id IS NULL")
		if workshop != nil {
			var id int64
			err := tx.queryRow(`SELECT id FROM workshops WHERE slug = $1`, *workshop).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return wod.Errorf(wod.ENOTFOUND, "workshop %s not found", *workshop)
			}
			if err != nil {
				return err
			}
			w.add("r.workshop_id = ?", id)
		}
		// Both render the UTC day as text: SQLite's date() converts the
		// stored offset to UTC, PostgreSQL's session time zone may not be UTC.
		day := `date(r.created_at)`
		if tx.db.dialect == Postgres {
			day = `to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
		}
		counts := map[string]int{}
		if err := countBy(tx, `SELECT `+day+`, COUNT(*) FROM registrations r`+w.String()+` GROUP BY 1`, counts, w.args...); err != nil {
			return err
		}
		first := since.UTC().Truncate(24 * time.Hour)
		for d := first; !d.After(tx.now); d = d.AddDate(0, 0, 1) {
			out = append(out, wod.DayCount{Day: d, Registrations: counts[d.Format(time.DateOnly)]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registrations per day: %w", err)
	}
	return out, nil
}
