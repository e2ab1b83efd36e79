package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

// FindAnnouncements lists announcements, newest first; with currentAt, only
// those showing at that time.
func (db *DB) FindAnnouncements(ctx context.Context, currentAt *time.Time) (as []*wod.Announcement, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if currentAt != nil {
			w.add("(starts_at IS NULL OR starts_at <= ?)", currentAt.UTC())
			w.add("(ends_at IS NULL OR ends_at > ?)", currentAt.UTC())
		}
		as, err = queryAll(tx, func(row scanner) (*wod.Announcement, error) {
			var a wod.Announcement
			var starts, ends sql.NullTime
			if err := row.Scan(&a.ID, &a.Message, &a.Level, &starts, &ends, &a.CreatedAt); err != nil {
				return nil, err
			}
			a.StartsAt, a.EndsAt, a.CreatedAt = timePtr(starts), timePtr(ends), a.CreatedAt.UTC()
			return &a, nil
		}, `SELECT id, message, level, starts_at, ends_at, created_at FROM announcements`+
			w.String()+` ORDER BY id DESC`, w.args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find announcements: %w", err)
	}
	return as, nil
}

// CreateAnnouncement adds a banner.
func (db *DB) CreateAnnouncement(ctx context.Context, a *wod.Announcement) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("create announcement: %w", err)
	}
	err := db.transact(ctx, func(tx *Tx) error {
		a.CreatedAt = tx.now
		return tx.queryRow(`INSERT INTO announcements (message, level, starts_at, ends_at, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			a.Message, a.Level, nullTime(a.StartsAt), nullTime(a.EndsAt), tx.now).Scan(&a.ID)
	})
	if err != nil {
		return fmt.Errorf("create announcement: %w", err)
	}
	return nil
}

// DeleteAnnouncement removes a banner.
func (db *DB) DeleteAnnouncement(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM announcements WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wod.Errorf(wod.ENOTFOUND, "announcement %d not found", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete announcement %d: %w", id, err)
	}
	return nil
}
