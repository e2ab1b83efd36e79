package store_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestQueryRows checks the one loop over a query's rows (queryAll,
// queryEach) on both databases: every row in order, none as nil, and the
// query's, the scan's and the caller's errors reported, after which the
// store still answers.
func TestQueryRows(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, _ *storetest.Clock) {
		ctx := t.Context()
		three := `SELECT 3 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 ORDER BY n`

		got, err := db.QueryInts(ctx, three)
		if err != nil || !slices.Equal(got, []int64{1, 2, 3}) {
			t.Errorf("three rows: %v, %v; want [1 2 3]", got, err)
		}
		got, err = db.QueryInts(ctx, `SELECT n FROM (`+three+`) AS t WHERE n > $1`, 5)
		if err != nil || got != nil {
			t.Errorf("no row: %#v, %v; want nil, nil", got, err)
		}
		if got, err = db.QueryInts(ctx, `SELECT no_such_column FROM users`); err == nil {
			t.Errorf("bad query: %v, nil; want an error", got)
		}
		if got, err = db.QueryInts(ctx, `SELECT 'not a number'`); err == nil {
			t.Errorf("unscannable row: %v, nil; want an error", got)
		}

		// The caller's error ends the iteration at that row and comes back.
		stop := errors.New("stop")
		var seen []int64
		err = db.QueryEach(ctx, func(n int64) error {
			seen = append(seen, n)
			if n == 2 {
				return stop
			}
			return nil
		}, three)
		if !errors.Is(err, stop) || !slices.Equal(seen, []int64{1, 2}) {
			t.Errorf("each failing at 2: saw %v, %v; want [1 2], %v", seen, err, stop)
		}

		// The rows were closed every time: the store still answers.
		if got, err := db.QueryInts(ctx, three); err != nil || len(got) != 3 {
			t.Errorf("after the errors: %v, %v", got, err)
		}
	})
}
