package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wod-dev/wod"
)

var _ wod.LegacyImportService = (*DB)(nil)

// LegacyImported maps the legacy ids of kind already imported to wod ids.
func (db *DB) LegacyImported(ctx context.Context, kind wod.LegacyKind) (m map[int64]int64, err error) {
	m = map[int64]int64{}
	err = db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT legacy_id, wod_id FROM legacy_imports WHERE kind = $1`, string(kind))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l, w int64
			if err := rows.Scan(&l, &w); err != nil {
				return err
			}
			m[l] = w
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("legacy %ss imported: %w", kind, err)
	}
	return m, nil
}

// RecordLegacy notes that a legacy row became a wod row; recording the
// same legacy row again keeps the first record.
func (db *DB) RecordLegacy(ctx context.Context, kind wod.LegacyKind, legacyID, wodID int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		return recordLegacy(tx, kind, legacyID, wodID)
	})
	if err != nil {
		return fmt.Errorf("record legacy %s %d: %w", kind, legacyID, err)
	}
	return nil
}

func recordLegacy(tx *Tx, kind wod.LegacyKind, legacyID, wodID int64) error {
	_, err := tx.exec(`INSERT INTO legacy_imports (kind, legacy_id, wod_id) VALUES ($1, $2, $3)
		ON CONFLICT (kind, legacy_id) DO NOTHING`, string(kind), legacyID, wodID)
	return err
}

// ImportPastRegistration adds a finished registration of the original with
// its badge and its legacy record, all or nothing, so that a crash leaves
// either the whole customer imported or nothing of it.
func (db *DB) ImportPastRegistration(ctx context.Context, p *wod.PastRegistration) (id int64, created bool, err error) {
	if p.State != wod.StateDone && p.State != wod.StateFailed {
		return 0, false, fmt.Errorf("import legacy customer %d: state %s is not a finished one", p.LegacyID, p.State)
	}
	err = db.transact(ctx, func(tx *Tx) error {
		err := tx.queryRow(`SELECT wod_id FROM legacy_imports WHERE kind = $1 AND legacy_id = $2`,
			string(wod.LegacyCustomer), p.LegacyID).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ends := p.EndsAt.UTC()
		if err := tx.queryRow(`INSERT INTO registrations (workshop_id, name, email, company, state, location_id,
			student_number, completion, created_at, ready_at, ends_at, ended_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10, $11) RETURNING id`,
			p.WorkshopID, p.Name, p.Email, p.Company, string(p.State), p.LocationID, p.Student,
			nullIntPtr(p.Completion), p.CreatedAt.UTC(), ends, tx.now).Scan(&id); err != nil {
			return err
		}
		created = true
		if p.BadgeLevel > 0 {
			if _, err := tx.exec(`INSERT INTO badges_earned (email, level, registration_id, earned_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT (email, level) DO NOTHING`, p.Email, p.BadgeLevel, id, ends); err != nil {
				return err
			}
		}
		return recordLegacy(tx, wod.LegacyCustomer, p.LegacyID, id)
	})
	if err != nil {
		return 0, false, fmt.Errorf("import legacy customer %d: %w", p.LegacyID, err)
	}
	return id, created, nil
}

func nullIntPtr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// ImportLiveRegistration takes over a customer still running on the
// original: the registration holds its student's seat and wod's timers
// end it, as if wod had started it.
func (db *DB) ImportLiveRegistration(ctx context.Context, l *wod.LiveRegistration) (id int64, created bool, err error) {
	if l.State != wod.StateReady && l.State != wod.StateExpiring {
		return 0, false, fmt.Errorf("import legacy customer %d: state %s is not a running one", l.LegacyID, l.State)
	}
	err = db.transact(ctx, func(tx *Tx) error {
		err := tx.queryRow(`SELECT wod_id FROM legacy_imports WHERE kind = $1 AND legacy_id = $2`,
			string(wod.LegacyCustomer), l.LegacyID).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var seatID int64
		var state string
		err = tx.queryRow(`SELECT id, state FROM seats WHERE location_id = $1 AND number = $2`, l.LocationID, l.Student).
			Scan(&seatID, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ECONFLICT, "student %d has no seat at location %d", l.Student, l.LocationID)
		}
		if err != nil {
			return err
		}
		if state != string(wod.SeatFree) {
			return wod.Errorf(wod.ECONFLICT, "the seat of student %d is %s in wod", l.Student, state)
		}
		err = tx.queryRow(`INSERT INTO registrations (workshop_id, name, email, company, state, seat_id, location_id,
			student_number, password_enc, created_at, ready_at, ends_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12) RETURNING id`,
			l.WorkshopID, l.Name, l.Email, l.Company, string(l.State), seatID, l.LocationID, l.Student, l.PasswordEnc,
			l.CreatedAt.UTC(), l.EndsAt.UTC(), tx.now).Scan(&id)
		if isUniqueViolation(err, "registrations_live_email") {
			return wod.Errorf(wod.ECONFLICT, "%s already has a live registration in wod", l.Email)
		}
		if err != nil {
			return err
		}
		created = true
		if _, err := tx.exec(`UPDATE seats SET state = 'assigned', registration_id = $1, updated_at = $2 WHERE id = $3`,
			id, tx.now, seatID); err != nil {
			return err
		}
		jobs := []*wod.Job{{Kind: wod.JobExpire, RunAt: l.EndsAt}}
		if l.RemindAt != nil {
			jobs = append(jobs, &wod.Job{Kind: wod.JobRemind, RunAt: *l.RemindAt})
		}
		if err := scheduleJobs(tx, id, jobs); err != nil {
			return err
		}
		return recordLegacy(tx, wod.LegacyCustomer, l.LegacyID, id)
	})
	if err != nil {
		return 0, false, fmt.Errorf("import live legacy customer %d: %w", l.LegacyID, err)
	}
	return id, created, nil
}
