package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

// Gauges reads the monitoring counts in one read transaction. Every query
// is an aggregate over an index (registrations by state, seats by location
// and state, unfinished jobs, the outbox by state), so a scrape stays cheap
// with a long history.
func (db *DB) Gauges(ctx context.Context) (g *wod.Gauges, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		g = &wod.Gauges{Registrations: map[wod.RegistrationState]int{}, Mails: map[wod.MailState]int{}}
		d := &wod.Dashboard{}
		for _, step := range []func() error{
			func() error {
				return countBy(tx, `SELECT state, COUNT(*) FROM registrations WHERE rehearsal_id IS NULL GROUP BY state`, g.Registrations)
			},
			func() error { return countBy(tx, `SELECT state, COUNT(*) FROM mails GROUP BY state`, g.Mails) },
			func() error { return gaugeSeats(tx, g) },
			func() error { return gaugeJobs(tx, g) },
			func() error {
				var err error
				g.OldestDueJob, err = oldest(tx, `SELECT run_at FROM jobs WHERE state = 'queued' AND run_at <= $1 ORDER BY run_at LIMIT 1`)
				return err
			},
			func() error {
				var err error
				g.OldestDueMail, err = oldest(tx, `SELECT next_attempt_at FROM mails WHERE state = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 1`)
				return err
			},
			func() error { return dashboardWorkshops(tx, d) },
			func() error { return dashboardLocations(tx, d) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		g.Workshops, g.Locations = d.Workshops, d.Locations
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gauges: %w", err)
	}
	return g, nil
}

// countBy fills m from a query of (key, count) rows.
func countBy[K ~string](tx *Tx, query string, m map[K]int, args ...any) error {
	return queryEach(tx, func(row scanner) error {
		var k K
		var n int
		if err := row.Scan(&k, &n); err != nil {
			return err
		}
		m[k] = n
		return nil
	}, query, args...)
}

func gaugeSeats(tx *Tx, g *wod.Gauges) error {
	seats, err := queryAll(tx, func(row scanner) (wod.SeatCount, error) {
		var c wod.SeatCount
		err := row.Scan(&c.Location, &c.State, &c.Count)
		return c, err
	}, `SELECT l.name, s.state, COUNT(*) FROM seats s JOIN locations l ON l.id = s.location_id
		GROUP BY l.name, s.state ORDER BY l.name, s.state`)
	if err != nil {
		return fmt.Errorf("seats: %w", err)
	}
	g.Seats = append(g.Seats, seats...)
	return nil
}

func gaugeJobs(tx *Tx, g *wod.Gauges) error {
	// Done and cancelled jobs are history: they only grow.
	jobs, err := queryAll(tx, func(row scanner) (wod.JobCount, error) {
		var c wod.JobCount
		err := row.Scan(&c.Kind, &c.State, &c.Count)
		return c, err
	}, `SELECT kind, state, COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'failed')
		GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	g.Jobs = append(g.Jobs, jobs...)
	return nil
}

// oldest runs a query for the first due time (ORDER BY … LIMIT 1 rather
// than MIN, which loses the column's type on SQLite), bounded by now.
func oldest(tx *Tx, query string) (*time.Time, error) {
	var t time.Time
	err := tx.queryRow(query, tx.now).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	return &t, nil
}
