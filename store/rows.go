package store

// queryEach runs query and hands every row to each, in order: the one loop
// over a query's rows, which closes them and reports the error that ended
// the iteration (rows.Err) as well as the query's and each's.
func queryEach(tx *Tx, each func(row scanner) error, query string, args ...any) error {
	rows, err := tx.query(query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryAll runs query and returns every row as scan reads it; nil when
// there is none.
func queryAll[T any](tx *Tx, scan func(row scanner) (T, error), query string, args ...any) ([]T, error) {
	var all []T
	err := queryEach(tx, func(row scanner) error {
		v, err := scan(row)
		if err != nil {
			return err
		}
		all = append(all, v)
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return all, nil
}

// scanOne reads a row of one column.
func scanOne[T any](row scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}

// thenScan is a row read by two scan functions, the columns of the first
// and then those of second: the first's Scan runs second, whose Scan reads
// the whole row at once, so that each function checks and converts its own
// columns as it does for its own table (or second reads the few columns a
// query adds to a table's).
type thenScan struct {
	row    scanner
	second func(row scanner) error
}

func (s thenScan) Scan(first ...any) error {
	return s.second(scanFunc(func(second ...any) error { return s.row.Scan(append(first, second...)...) }))
}

// scanFunc is a function that scans a row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// discard is n destinations of a row's columns that keep nothing.
func discard(n int) []any {
	ds := make([]any, n)
	for i := range ds {
		ds[i] = new(any)
	}
	return ds
}

// prefixScan scans a row's first columns into first, the rest into what
// its Scan is given.
type prefixScan struct {
	row   scanner
	first []any
}

func (s prefixScan) Scan(dest ...any) error { return s.row.Scan(append(s.first, dest...)...) }
