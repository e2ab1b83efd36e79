package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

var _ wod.RehearsalStore = (*DB)(nil)

// A rehearsal's seat is the registration that names it (registrations.
// rehearsal_id): one source of truth, written in the registration's own
// transaction, so that a crash between booking and saving cannot lose the
// seat.
const rehearsalColumns = `h.id, h.workshop_id, w.slug, h.state, h.requested_by, h.completion, h.error, h.notebooks,
	h.created_at, h.finished_at,
	(SELECT MAX(r.id) FROM registrations r WHERE r.rehearsal_id = h.id),
	(SELECT l.name FROM registrations r JOIN locations l ON l.id = r.location_id WHERE r.rehearsal_id = h.id
		ORDER BY r.id DESC LIMIT 1)`

const rehearsalFrom = `rehearsals h JOIN workshops w ON w.id = h.workshop_id`

func scanRehearsal(row scanner) (*wod.Rehearsal, error) {
	var r wod.Rehearsal
	var completion, reg sql.NullInt64
	var finished sql.NullTime
	var notebooks string
	var location sql.NullString
	if err := row.Scan(&r.ID, &r.WorkshopID, &r.Workshop, &r.State, &r.RequestedBy, &completion, &r.Error, &notebooks,
		&r.CreatedAt, &finished, &reg, &location); err != nil {
		return nil, err
	}
	if completion.Valid {
		c := int(completion.Int64)
		r.Completion = &c
	}
	if err := json.Unmarshal([]byte(notebooks), &r.Notebooks); err != nil {
		return nil, fmt.Errorf("rehearsal %d: notebooks: %w", r.ID, err)
	}
	if r.Notebooks == nil {
		r.Notebooks = []wod.NotebookRun{}
	}
	r.RegistrationID, r.FinishedAt, r.Location = int64Ptr(reg), timePtr(finished), location.String
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
}

// CreateRehearsal stores a running rehearsal of r.Workshop (a slug).
func (db *DB) CreateRehearsal(ctx context.Context, r *wod.Rehearsal) error {
	err := db.transact(ctx, func(tx *Tx) error {
		var wid int64
		err := tx.queryRow(`SELECT id FROM workshops WHERE slug = $1`, r.Workshop).Scan(&wid)
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "workshop %s not found", r.Workshop)
		}
		if err != nil {
			return err
		}
		if r.Notebooks == nil {
			r.Notebooks = []wod.NotebookRun{}
		}
		r.WorkshopID, r.State, r.CreatedAt = wid, wod.RehearsalRunning, tx.now
		return tx.queryRow(`INSERT INTO rehearsals (workshop_id, state, requested_by, error, notebooks, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, wid, r.State, r.RequestedBy, r.Error,
			jsonText(r.Notebooks), tx.now).Scan(&r.ID)
	})
	if err != nil {
		return fmt.Errorf("create rehearsal: %w", err)
	}
	return nil
}

// UpdateRehearsal saves a rehearsal's progress, or its end.
func (db *DB) UpdateRehearsal(ctx context.Context, r *wod.Rehearsal) error {
	return db.FinishRehearsal(ctx, r, nil)
}

// FinishRehearsal saves the rehearsal and queues the alert, when there is
// one, in the same transaction. A rehearsal that has ended is not changed
// any more (ECONFLICT): a runner that was declared gone cannot overwrite
// the verdict.
func (db *DB) FinishRehearsal(ctx context.Context, r *wod.Rehearsal, alert *wod.Mail) error {
	err := db.transact(ctx, func(tx *Tx) error {
		var finished *time.Time
		if r.State.Final() {
			if r.FinishedAt == nil {
				at := tx.now
				r.FinishedAt = &at
			}
			finished = r.FinishedAt
		}
		nbs := r.Notebooks
		if nbs == nil {
			nbs = []wod.NotebookRun{}
		}
		var completion sql.NullInt64
		if r.Completion != nil {
			completion = sql.NullInt64{Int64: int64(*r.Completion), Valid: true}
		}
		res, err := tx.exec(`UPDATE rehearsals SET state = $1, completion = $2, error = $3, notebooks = $4,
			finished_at = $5, updated_at = $6 WHERE id = $7 AND state = 'running'`,
			r.State, completion, r.Error, jsonText(nbs), nullTime(finished), tx.now, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			var state string
			err := tx.queryRow(`SELECT state FROM rehearsals WHERE id = $1`, r.ID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return wod.Errorf(wod.ENOTFOUND, "rehearsal %d not found", r.ID)
			}
			if err != nil {
				return err
			}
			return wod.Errorf(wod.ECONFLICT, "rehearsal %d is %s already", r.ID, state)
		}
		if r.State == wod.RehearsalFailed {
			if err := queueRehearsalWebhook(tx, r.ID); err != nil {
				return err
			}
		}
		if alert != nil {
			return insertMail(tx, alert)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update rehearsal %d: %w", r.ID, err)
	}
	return nil
}

// FindRehearsal returns one rehearsal.
func (db *DB) FindRehearsal(ctx context.Context, id int64) (r *wod.Rehearsal, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		r, err = scanRehearsal(tx.queryRow(`SELECT `+rehearsalColumns+` FROM `+rehearsalFrom+` WHERE h.id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "rehearsal %d not found", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find rehearsal %d: %w", id, err)
	}
	return r, nil
}

// FindRehearsals lists a workshop's rehearsals, newest first.
func (db *DB) FindRehearsals(ctx context.Context, workshop string, limit int) (rs []*wod.Rehearsal, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	err = db.read(ctx, func(tx *Tx) error {
		rs, err = queryAll(tx, scanRehearsal, `SELECT `+rehearsalColumns+` FROM `+rehearsalFrom+
			` WHERE w.slug = $1 ORDER BY h.id DESC LIMIT $2`, workshop, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find rehearsals of %s: %w", workshop, err)
	}
	return rs, nil
}

// LastRehearsals returns each workshop's latest rehearsal, by slug.
func (db *DB) LastRehearsals(ctx context.Context) (map[string]*wod.Rehearsal, error) {
	var rs []*wod.Rehearsal
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		rs, err = queryAll(tx, scanRehearsal, `SELECT `+rehearsalColumns+` FROM `+rehearsalFrom+
			` WHERE h.id IN (SELECT MAX(id) FROM rehearsals GROUP BY workshop_id)`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("last rehearsals: %w", err)
	}
	out := make(map[string]*wod.Rehearsal, len(rs))
	for _, r := range rs {
		out[r.Workshop] = r
	}
	return out, nil
}

// FailStaleRehearsals fails the running rehearsals not updated since
// before, with the reason, and returns them as failed.
func (db *DB) FailStaleRehearsals(ctx context.Context, before time.Time, reason string) (rs []*wod.Rehearsal, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		ids, err := queryAll(tx, scanOne[int64], `SELECT id FROM rehearsals WHERE state = 'running' AND updated_at < $1`+
			tx.forUpdate(), before.UTC())
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, id := range ids {
			if _, err := tx.exec(`UPDATE rehearsals SET state = 'failed', error = $1, finished_at = $2, updated_at = $2
				WHERE id = $3 AND state = 'running'`, reason, tx.now, id); err != nil {
				return err
			}
			r, err := scanRehearsal(tx.queryRow(`SELECT `+rehearsalColumns+` FROM `+rehearsalFrom+` WHERE h.id = $1`, id))
			if err != nil {
				return err
			}
			if err := queueRehearsalWebhook(tx, id); err != nil {
				return err
			}
			rs = append(rs, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fail stale rehearsals: %w", err)
	}
	return rs, nil
}

// DeleteRehearsal removes a running rehearsal that never got a seat: an
// operator's request answered "no free seat", or a scheduled one that
// waits for a seat, leaves no verdict behind.
func (db *DB) DeleteRehearsal(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM rehearsals WHERE id = $1 AND state = 'running'
			AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.rehearsal_id = $1)`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return wod.Errorf(wod.ECONFLICT, "rehearsal %d has a seat or has ended; it stays", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete rehearsal %d: %w", id, err)
	}
	return nil
}

// RegistrationHours counts the participants' registrations made since, by
// hour of the day (UTC): the schedule of rehearsals picks the quietest.
func (db *DB) RegistrationHours(ctx context.Context, since time.Time) (hours [24]int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		hour := `CAST(strftime('%H', created_at) AS INTEGER)`
		if tx.db.dialect == Postgres {
			hour = `CAST(EXTRACT(HOUR FROM created_at AT TIME ZONE 'UTC') AS INTEGER)`
		}
		return queryEach(tx, func(row scanner) error {
			var h, n int
			if err := row.Scan(&h, &n); err != nil {
				return err
			}
			if h >= 0 && h < 24 {
				hours[h] = n
			}
			return nil
		}, `SELECT `+hour+`, COUNT(*) FROM registrations WHERE created_at >= $1 AND rehearsal_id IS NULL GROUP BY 1`, since.UTC())
	})
	if err != nil {
		return hours, fmt.Errorf("registration hours: %w", err)
	}
	return hours, nil
}
