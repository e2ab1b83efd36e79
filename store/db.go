// Package store keeps wod's state in SQLite (the embedded default) or
// PostgreSQL, with one SQL text for both: `$N` placeholders, RETURNING and
// ON CONFLICT work on both drivers. The dialect matters only for DDL (two
// migration folders with the same versions) and row locking.
//
// Every public method is one transaction; private helpers take the *Tx.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wod-dev/wod"
)

// Dialect names the database engine.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

//go:embed migrations
var migrations embed.FS

// DB is wod's store. It implements the domain's service interfaces.
type DB struct {
	sql *sql.DB
	// ro reads SQLite beside the one writing connection: in WAL mode
	// readers never wait for the writer, so a thousand status pages and an
	// operator's statistics do not queue behind bookings. Nil on
	// PostgreSQL, whose pool serves both.
	ro      *sql.DB
	dialect Dialect
	clock   wod.Clock
	// booking admits bookings to PostgreSQL's pool, half of its connections
	// at most (nil on SQLite): see CreateRegistration.
	booking chan struct{}
}

var (
	_ wod.WorkshopService     = (*DB)(nil)
	_ wod.LocationService     = (*DB)(nil)
	_ wod.SeatService         = (*DB)(nil)
	_ wod.RegistrationService = (*DB)(nil)
	_ wod.JobService          = (*DB)(nil)
	_ wod.MailService         = (*DB)(nil)
	_ wod.UserService         = (*DB)(nil)
	_ wod.TokenService        = (*DB)(nil)
	_ wod.EventService        = (*DB)(nil)
	_ wod.AnnouncementService = (*DB)(nil)
	_ wod.SessionService      = (*DB)(nil)
)

// Open connects to the database named by dsn: "sqlite:PATH" or a
// "postgres://" URL. It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, clock wod.Clock) (*DB, error) {
	if clock == nil {
		clock = wod.SystemClock{}
	}
	db := &DB{clock: clock}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("open store: sqlite DSN needs a path, as in sqlite:/var/lib/wod/wod.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		db.dialect = SQLite
		db.sql, err = sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		// One connection: SQLite has one writer anyway, and this makes every
		// transaction, seat allocation included, strictly serial.
		db.sql.SetMaxOpenConns(1)
		if db.ro, err = sql.Open("sqlite", sqliteReadDSN(path)); err != nil {
			db.sql.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
		db.ro.SetMaxOpenConns(4)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db.dialect = Postgres
		conns := defaultPoolSize(runtime.GOMAXPROCS(0))
		if dsn, conns, err = poolSize(dsn, conns); err != nil {
			return nil, fmt.Errorf("open store %s: %w", RedactDSN(dsn), err)
		}
		db.sql, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		// As many idle connections as open ones: a burst that used them all
		// would otherwise close half of them as it ends and open them again
		// at the next (a server process forked each time); the idle timeout
		// closes them once the crowd is gone.
		db.sql.SetMaxOpenConns(conns)
		db.sql.SetMaxIdleConns(conns)
		db.booking = make(chan struct{}, max(1, conns/2))
		db.sql.SetConnMaxIdleTime(5 * time.Minute)
	default:
		return nil, fmt.Errorf("open store: database %q is neither sqlite:PATH nor postgres://…", RedactDSN(dsn))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.sql.PingContext(pingCtx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("open store %s: %w", RedactDSN(dsn), err)
	}
	return db, nil
}

// defaultPoolSize is the most connections a server opens when the
// PostgreSQL URL does not say: four per CPU this process may use, from 8
// to 20. More connections than the database's cores can serve only make
// its processes take turns and contend: on two cores shared with the
// database (wod-bench -mode locations), a pool of 8 books ~15 % more a
// second than one of 20 with a fifth less CPU for the whole crowd.
func defaultPoolSize(cpus int) int { return min(20, max(8, 4*cpus)) }

// poolSize takes the pool_max_conns parameter (pgxpool's name for it)
// out of a PostgreSQL URL: the most connections a server opens, def when
// it is not given. Each connection is a server process; a crowd's requests
// wait for one, too many contend (defaultPoolSize), and all the replicas'
// together must stay under the server's max_connections.
func poolSize(dsn string, def int) (string, int, error) {
	u, err := url.Parse(dsn)
	if err != nil || !u.Query().Has("pool_max_conns") {
		return dsn, def, nil
	}
	q := u.Query()
	n, err := strconv.Atoi(q.Get("pool_max_conns"))
	if err != nil || n < 1 {
		return dsn, 0, fmt.Errorf("pool_max_conns=%q: want a number of connections, 1 or more", q.Get("pool_max_conns"))
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// sqliteDSN builds the writer's DSN in code: the pragmas run verbatim, so
// none of it comes from configuration. Its transactions take the write
// lock at once (immediate), so that a booking never fails half-way on an
// upgrade from read to write.
func sqliteDSN(path string) string {
	return sqliteDSNWith(path, "immediate", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)")
}

// sqliteReadDSN is the readers' DSN: deferred transactions that take no
// lock, and query_only so that a write routed here by mistake fails loudly
// instead of racing the writer.
func sqliteReadDSN(path string) string {
	return sqliteDSNWith(path, "deferred", "query_only(1)")
}

// sqliteDSNWith adds the pragmas both kinds of connection share to the
// given ones.
func sqliteDSNWith(path, txlock string, pragmas ...string) string {
	q := url.Values{}
	// First, so that the pragmas after it (journal_mode) wait for a lock
	// rather than fail.
	q.Add("_pragma", "busy_timeout(10000)")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	// Reads through a memory map rather than a pread per page, and a page
	// cache that holds the hot tables (registrations, seats, workshops)
	// instead of the default 2 MB: listings over 10 000 registrations
	// otherwise spend most of their time in system calls.
	q.Add("_pragma", "mmap_size(268435456)")
	q.Add("_pragma", "cache_size(-32768)")
	q.Add("_pragma", "temp_store(memory)")
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", txlock)
	return "file:" + path + "?" + q.Encode()
}

// RedactDSN hides the password of a DSN, for messages and logs.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect returns the database engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the connections.
func (db *DB) Close() error {
	if db.ro != nil {
		db.ro.Close()
	}
	return db.sql.Close()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

func (db *DB) migrator() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together take turns instead of racing.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db.sql, sub, opts...)
}

// Migrate brings the schema to the newest version and returns how many
// migrations it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	p, err := db.migrator()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// MigrationVersions returns the schema version of the database and the newest
// this binary knows.
func (db *DB) MigrationVersions(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrator()
	if err != nil {
		return 0, 0, fmt.Errorf("migration versions: %w", err)
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migration versions: %w", err)
	}
	return current, latest, nil
}

// Tx is a transaction with the time it started, so that every row it
// stamps carries the same instant.
type Tx struct {
	// q is the transaction, or for readStatement the pool itself.
	q   querier
	ctx context.Context
	db  *DB
	now time.Time
}

// querier is what Tx queries through: a *sql.Tx or a *sql.DB.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (tx *Tx) query(q string, args ...any) (*sql.Rows, error) {
	return tx.q.QueryContext(tx.ctx, q, args...)
}

func (tx *Tx) queryRow(q string, args ...any) *sql.Row {
	return tx.q.QueryRowContext(tx.ctx, q, args...)
}

func (tx *Tx) exec(q string, args ...any) (sql.Result, error) {
	return tx.q.ExecContext(tx.ctx, q, args...)
}

// transact runs fn in a transaction and commits it, retrying when the
// database reports a serialization failure, a deadlock or a busy file.
func (db *DB) transact(ctx context.Context, fn func(tx *Tx) error) error {
	return db.transactOn(ctx, db.sql, fn)
}

// read runs fn in a transaction that only reads: on SQLite beside the
// writer, on PostgreSQL in the one pool.
func (db *DB) read(ctx context.Context, fn func(tx *Tx) error) error {
	if db.ro == nil {
		return db.transact(ctx, fn)
	}
	return db.transactOn(ctx, db.ro, fn)
}

// readStatement runs fn, which must run exactly one statement, a SELECT,
// outside a transaction: one statement reads one consistent snapshot by
// itself, and on PostgreSQL this spares the BEGIN and the COMMIT, two of
// the three round trips a read in a transaction costs. The agents'
// requests and the bookings look up a registration, a workshop, a location
// or a job many times each.
func (db *DB) readStatement(ctx context.Context, fn func(tx *Tx) error) error {
	pool := db.sql
	if db.ro != nil {
		pool = db.ro
	}
	return fn(&Tx{q: pool, ctx: ctx, db: db, now: db.clock.Now().UTC()})
}

// writeStatement runs fn, which must run exactly one statement, outside
// a transaction on PostgreSQL, where one statement is atomic by itself: one
// round trip instead of three. On SQLite it is a transaction on the one
// writing connection, as ever.
func (db *DB) writeStatement(ctx context.Context, fn func(tx *Tx) error) error {
	if db.dialect != Postgres {
		return db.transact(ctx, fn)
	}
	return db.retry(ctx, func() error { return fn(&Tx{q: db.sql, ctx: ctx, db: db, now: db.clock.Now().UTC()}) })
}

func (db *DB) transactOn(ctx context.Context, pool *sql.DB, fn func(tx *Tx) error) error {
	return db.retry(ctx, func() error { return db.transactOnce(ctx, pool, fn) })
}

// retry runs once again after a serialization failure, a deadlock or a
// busy file.
func (db *DB) retry(ctx context.Context, once func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = once()
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func (db *DB) transactOnce(ctx context.Context, pool *sql.DB, fn func(tx *Tx) error) error {
	stx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{q: stx, ctx: ctx, db: db, now: db.clock.Now().UTC()}
	defer stx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// isUniqueViolation reports whether err is a unique-constraint failure, and
// on which constraint or index when the driver says.
func isUniqueViolation(err error, index string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && (index == "" || pgErr.ConstraintName == index)
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		if sqErr.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && sqErr.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			return false
		}
		// SQLite names the columns, not the index.
		return index == "" || strings.Contains(sqErr.Error(), uniqueColumns[index])
	}
	return false
}

// uniqueColumns maps unique indexes to the way SQLite names them in errors.
var uniqueColumns = map[string]string{
	"registrations_live_email": "registrations.email",
	"registrations_live_seat":  "registrations.seat_id",
	"workshops_slug_key":       "workshops.slug",
	"locations_name_key":       "locations.name",
	"users_username_key":       "users.username",
}

// forUpdate locks the selected rows on PostgreSQL. SQLite needs nothing: its
// transactions begin IMMEDIATE and hold the only write lock.
func (tx *Tx) forUpdate() string {
	if tx.db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
