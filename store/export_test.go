package store

import (
	"context"
	"database/sql"
)

// MigrateTo brings the schema up to the version only, for tests of a
// migration's effect on the rows it finds.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrator()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// SQL is the store's connection, for tests that write rows as an older
// version left them.
func (db *DB) SQL() *sql.DB { return db.sql }
