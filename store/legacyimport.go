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
