package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

// FindNotebooks returns what a finished registration left.
func (db *DB) FindNotebooks(ctx context.Context, registrationID int64, withData bool) (n *wod.Notebooks, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var x wod.Notebooks
		var err error
		if withData {
			err = tx.queryRow(`SELECT length(data), created_at, data FROM registration_notebooks WHERE registration_id = $1`,
				registrationID).Scan(&x.Size, &x.KeptAt, &x.Data)
		} else {
			err = tx.queryRow(`SELECT length(data), created_at FROM registration_notebooks WHERE registration_id = $1`,
				registrationID).Scan(&x.Size, &x.KeptAt)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "registration %d has no notebooks kept", registrationID)
		}
		x.KeptAt = x.KeptAt.UTC()
		n = &x
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find notebooks: %w", err)
	}
	return n, nil
}

// PruneNotebooks deletes the notebooks kept since before, a batch per
// transaction.
func (db *DB) PruneNotebooks(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := db.pruneOnce(ctx, `DELETE FROM registration_notebooks WHERE registration_id IN
			(SELECT registration_id FROM registration_notebooks WHERE created_at < $1 LIMIT $2)`, before)
		if err != nil {
			return total, fmt.Errorf("prune notebooks: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
