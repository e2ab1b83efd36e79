package store

import "context"

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
