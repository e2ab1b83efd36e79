package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// where builds a WHERE clause with $N placeholders numbered in order.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; each "?" in cond becomes the next $N.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page appends LIMIT and OFFSET placeholders for p.
func (w *where) page(p wod.Page) string {
	p = p.Normalize()
	w.args = append(w.args, p.Limit, p.Offset)
	return fmt.Sprintf(" LIMIT $%d OFFSET $%d", len(w.args)-1, len(w.args))
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: marshal %T: %v", v, err))
	}
	return string(b)
}

// stringList scans a JSON array of strings kept in a TEXT column.
type stringList []string

func (l *stringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		*l = nil
		return nil
	default:
		return fmt.Errorf("stringList: cannot scan %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("stringList: %w", err)
	}
	*l = out
	return nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func int64Ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func nullInt64(v *int64) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *v, Valid: true}
}

// count runs a COUNT query with the filter's conditions.
func count(tx *Tx, from string, w *where) (int, error) {
	var n int
	err := tx.queryRow(`SELECT COUNT(*) FROM `+from+w.String(), w.args...).Scan(&n)
	return n, err
}

// liveSQL is the SQL list of the states that hold a participant's e-mail
// (wod.LiveStates, which State.Live asks in Go: waiting included), and
// holdingSQL the states that hold a seat (wod.SeatStates: waiting is not
// one). They are constants so that queries built from them are too; a test
// keeps them equal to the domain's lists.
const (
	liveSQL    = `('pending', 'ready', 'expiring', 'waiting')`
	holdingSQL = `('pending', 'ready', 'expiring', 'ending')`
)

// dueQuery is a query of one time (a queue's next due time or lease end)
// with its arguments, for earliest.
type dueQuery struct {
	sql  string
	args []any
}

// earliest runs the queries as one statement and returns the earliest time
// any of them found, and false when none found a row: when a queue (jobs,
// mails, webhook deliveries) next has work, due or leased. Each query is
// one ordered index scan with LIMIT 1; their union is one round trip.
func earliest(tx *Tx, qs ...dueQuery) (next time.Time, ok bool, err error) {
	var parts []string
	var args []any
	for i, q := range qs {
		parts = append(parts, fmt.Sprintf("SELECT * FROM (%s) AS due%d", renumber(q.sql, len(args)), i))
		args = append(args, q.args...)
	}
	times, err := queryAll(tx, scanOne[time.Time], strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, t := range times {
		if !ok || t.Before(next) {
			next, ok = t.UTC(), true
		}
	}
	return next, ok, nil
}

// renumber shifts the $N placeholders of query by offset, for a query
// joined after others that take offset arguments.
func renumber(query string, offset int) string {
	if offset == 0 {
		return query
	}
	return placeholder.ReplaceAllStringFunc(query, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(n+offset)
	})
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// prefixed qualifies each column of a plain list of column names ("a, b")
// with alias ("j."), for a query that joins their table to others.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
