package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wod-dev/wod"
)

func insertJob(tx *Tx, j *wod.Job) error {
	if j.State == "" {
		j.State = wod.JobQueued
	}
	if j.MaxAttempts == 0 {
		j.MaxAttempts = wod.DefaultMaxAttempts
	}
	if j.RunAt.IsZero() {
		j.RunAt = tx.now
	}
	args := string(j.Args)
	if args == "" {
		args = "{}"
	}
	j.CreatedAt, j.UpdatedAt = tx.now, tx.now
	return tx.queryRow(`INSERT INTO jobs (kind, registration_id, location_id, state, run_at, max_attempts, args,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		j.Kind, nullInt64(j.RegistrationID), nullInt64(j.LocationID), j.State, j.RunAt.UTC(), j.MaxAttempts, args,
		tx.now).Scan(&j.ID)
}

const jobColumns = `id, kind, registration_id, location_id, state, run_at, attempts, max_attempts, lease_until,
	leased_by, last_error, args, result, output, created_at, updated_at`

func scanJob(row scanner) (*wod.Job, error) {
	var j wod.Job
	var reg, loc sql.NullInt64
	var lease sql.NullTime
	var args, result string
	if err := row.Scan(&j.ID, &j.Kind, &reg, &loc, &j.State, &j.RunAt, &j.Attempts, &j.MaxAttempts, &lease,
		&j.LeasedBy, &j.LastError, &args, &result, &j.Output, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return nil, err
	}
	j.RegistrationID, j.LocationID, j.LeaseUntil = int64Ptr(reg), int64Ptr(loc), timePtr(lease)
	j.Args, j.Result = []byte(args), []byte(result)
	j.RunAt, j.CreatedAt, j.UpdatedAt = j.RunAt.UTC(), j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	return &j, nil
}

// FindJobs lists jobs, the next due first.
func (db *DB) FindJobs(ctx context.Context, f wod.JobFilter) (js []*wod.Job, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.State != nil {
			w.add("state = ?", *f.State)
		}
		if f.Kind != nil {
			w.add("kind = ?", *f.Kind)
		}
		if f.RegistrationID != nil {
			w.add("registration_id = ?", *f.RegistrationID)
		}
		if total, err = count(tx, "jobs", &w); err != nil {
			return err
		}
		js, err = queryJobs(tx, `SELECT `+jobColumns+` FROM jobs`+w.String()+` ORDER BY run_at DESC, id DESC`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find jobs: %w", err)
	}
	return js, total, nil
}

// ScheduleJobs inserts jobs that belong to no registration (maintenance,
// load tests), in one transaction.
func (db *DB) ScheduleJobs(ctx context.Context, js []*wod.Job) error {
	err := db.transact(ctx, func(tx *Tx) error {
		for _, j := range js {
			if err := insertJob(tx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schedule jobs: %w", err)
	}
	return nil
}

// queryJobs runs a query that returns job rows (a SELECT, or an UPDATE …
// RETURNING jobColumns) and scans them.
func queryJobs(tx *Tx, query string, args ...any) ([]*wod.Job, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var js []*wod.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	return js, rows.Err()
}
