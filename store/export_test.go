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

// QueryInts runs query through queryAll, reading one integer column, for
// the tests of the row helpers (which run in package store_test, on both
// dialects).
func (db *DB) QueryInts(ctx context.Context, query string, args ...any) ([]int64, error) {
	var out []int64
	err := db.read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(tx, scanOne[int64], query, args...)
		return err
	})
	return out, err
}

// QueryEach runs query through queryEach, handing every row's integer to
// each.
func (db *DB) QueryEach(ctx context.Context, each func(int64) error, query string, args ...any) error {
	return db.read(ctx, func(tx *Tx) error {
		return queryEach(tx, func(row scanner) error {
			v, err := scanOne[int64](row)
			if err != nil {
				return err
			}
			return each(v)
		}, query, args...)
	})
}
