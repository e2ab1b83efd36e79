package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
)

func insertJob(tx *Tx, j *wod.Job) error { return insertJobs(tx, []*wod.Job{j}) }

// insertJobs inserts jobs in one statement (a booking's create and
// watchdog), and tells the replicas of the agent jobs among them due now.
// Their ids come back with their kinds; jobs of one kind are inserted
// one by one, since nothing else tells their rows apart.
func insertJobs(tx *Tx, js []*wod.Job) error {
	if len(js) == 0 {
		return nil
	}
	kinds, distinct := jobsByKind(js)
	if !distinct {
		for _, j := range js {
			if err := insertJobs(tx, []*wod.Job{j}); err != nil {
				return err
			}
		}
		return nil
	}
	var values []string
	var args []any
	for _, j := range js {
		if j.State == "" {
			j.State = wod.JobQueued
		}
		if j.RunAt.IsZero() {
			j.RunAt = tx.now
		}
		a := storedArgs(j)
		j.CreatedAt, j.UpdatedAt = tx.now, tx.now
		n := len(args)
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+8))
		args = append(args, j.Kind, nullInt64(j.RegistrationID), nullInt64(j.LocationID), j.State, j.RunAt.UTC(),
			j.MaxAttempts, a, tx.now)
	}
	// The agent jobs due now wake the claims of their location on every
	// replica: on PostgreSQL from the INSERT's RETURNING, one round trip
	// (a location notified twice in one transaction is told once).
	var locations []int64
	for _, j := range js {
		if j.LocationID != nil && j.Kind.AgentKind() && j.State == wod.JobQueued && !j.RunAt.After(tx.now) &&
			!slices.Contains(locations, *j.LocationID) {
			locations = append(locations, *j.LocationID)
		}
	}
	notify := "''"
	if tx.db.dialect == Postgres && len(locations) > 0 {
		var calls []string
		for _, l := range locations {
			calls = append(calls, fmt.Sprintf(`pg_notify('%s', '%d')::text`, agentJobsChannel, l))
		}
		notify = strings.Join(calls, " || ")
	}
	type inserted struct {
		id   int64
		kind wod.JobKind
	}
	rows, err := queryAll(tx, func(row scanner) (inserted, error) {
		var r inserted
		var notified sql.NullString
		return r, row.Scan(&r.id, &r.kind, &notified)
	}, `INSERT INTO jobs (kind, registration_id, location_id, state, run_at, max_attempts, args, created_at, updated_at)
		VALUES `+strings.Join(values, ", ")+` RETURNING id, kind, `+notify, args...)
	if err != nil {
		return err
	}
	if len(rows) != len(js) {
		return fmt.Errorf("inserted %d jobs, want %d", len(rows), len(js))
	}
	for _, r := range rows {
		kinds[r.kind].ID = r.id
	}
	return nil
}

// jobsByKind maps jobs by kind and says whether each kind is one job's: a
// statement that writes several jobs tells its rows apart by their kinds.
func jobsByKind(js []*wod.Job) (map[wod.JobKind]*wod.Job, bool) {
	kinds := make(map[wod.JobKind]*wod.Job, len(js))
	for _, j := range js {
		kinds[j.Kind] = j
	}
	return kinds, len(kinds) == len(js)
}

// storedArgs gives the job its default attempts when it names none, and
// returns its arguments as stored ("{}" for none).
func storedArgs(j *wod.Job) string {
	if j.MaxAttempts == 0 {
		j.MaxAttempts = wod.DefaultMaxAttempts
	}
	if len(j.Args) == 0 {
		return "{}"
	}
	return string(j.Args)
}

// notifyAgentJob tells every replica's ListenAgentJobs, when tx commits,
// that an agent job is due at the location (PostgreSQL; the same location
// twice in one transaction is delivered once).
func notifyAgentJob(tx *Tx, locationID int64) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	_, err := tx.exec(`SELECT pg_notify('`+agentJobsChannel+`', $1)`, strconv.FormatInt(locationID, 10))
	return err
}

const jobColumns = `id, kind, registration_id, location_id, state, run_at, attempts, max_attempts, lease_until,
	leased_by, last_error, args, result, output, created_at, updated_at, dismissed_at`

func scanJob(row scanner) (*wod.Job, error) {
	var j wod.Job
	var reg, loc sql.NullInt64
	var lease, dismissed sql.NullTime
	var args, result string
	if err := row.Scan(&j.ID, &j.Kind, &reg, &loc, &j.State, &j.RunAt, &j.Attempts, &j.MaxAttempts, &lease,
		&j.LeasedBy, &j.LastError, &args, &result, &j.Output, &j.CreatedAt, &j.UpdatedAt, &dismissed); err != nil {
		return nil, err
	}
	j.RegistrationID, j.LocationID, j.LeaseUntil = int64Ptr(reg), int64Ptr(loc), timePtr(lease)
	j.DismissedAt = timePtr(dismissed)
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

// DismissJobs marks failed jobs as dealt with, so that the dashboard no
// longer lists them: one job, or (id 0) every failed job not dismissed yet.
// It returns how many it dismissed; a job that exists but has not failed is
// ECONFLICT, one that does not exist ENOTFOUND.
func (db *DB) DismissJobs(ctx context.Context, id int64) (n int, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		if id == 0 {
			res, err := tx.exec(`UPDATE jobs SET dismissed_at = $1 WHERE state = 'failed' AND dismissed_at IS NULL`, tx.now)
			if err != nil {
				return err
			}
			affected, err := res.RowsAffected()
			n = int(affected)
			return err
		}
		var state wod.JobState
		if err := tx.queryRow(`SELECT state FROM jobs WHERE id = $1`, id).Scan(&state); errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "no job %d", id)
		} else if err != nil {
			return err
		}
		if state != wod.JobFailed {
			return wod.Errorf(wod.ECONFLICT, "job %d is %s: only failed jobs are dismissed", id, state)
		}
		res, err := tx.exec(`UPDATE jobs SET dismissed_at = $1 WHERE id = $2 AND dismissed_at IS NULL`, tx.now, id)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		n = int(affected)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dismiss jobs: %w", err)
	}
	return n, nil
}

// RetryJob queues a failed job again, due now, with fresh attempts.
func (db *DB) RetryJob(ctx context.Context, id int64) (j *wod.Job, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		js, err := queryJobs(tx, `UPDATE jobs SET state = 'queued', run_at = $1, attempts = 0, lease_until = NULL,
			leased_by = '', dismissed_at = NULL, updated_at = $1 WHERE id = $2 AND state = 'failed' RETURNING `+jobColumns, tx.now, id)
		if err != nil {
			return err
		}
		if len(js) == 1 {
			j = js[0]
			if j.LocationID != nil && j.Kind.AgentKind() {
				// Due now: the location's agents hear of it, on every replica.
				return notifyAgentJob(tx, *j.LocationID)
			}
			return nil
		}
		var state wod.JobState
		if err := tx.queryRow(`SELECT state FROM jobs WHERE id = $1`, id).Scan(&state); errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "no job %d", id)
		} else if err != nil {
			return err
		}
		return wod.Errorf(wod.ECONFLICT, "job %d is %s: only failed jobs are retried", id, state)
	})
	if err != nil {
		return nil, fmt.Errorf("retry job: %w", err)
	}
	return j, nil
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
	return queryAll(tx, scanJob, query, args...)
}
