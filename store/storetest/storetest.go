// Package storetest gives tests a migrated, throwaway store on every
// database wod supports: SQLite always, PostgreSQL when a server answers.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
)

// PostgresEnv names the variable that points tests at a PostgreSQL server
// (a URL to any database on it; tests create their own databases). Unset,
// they try the local server with trust authentication.
const PostgresEnv = "WOD_TEST_POSTGRES"

// RequirePostgresEnv, when set to 1, turns a missing PostgreSQL server into a
// failure instead of a skip (CI sets it).
const RequirePostgresEnv = "WOD_TEST_REQUIRE_POSTGRES"

func postgresAdminURL() string {
	if u := os.Getenv(PostgresEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Dialects lists the databases to test on.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// T0 is where test clocks start.
var T0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// ForEach runs fn as a subtest on a fresh store of each dialect, each with
// its own clock stopped at T0.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB, clock *Clock)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			clock := NewClock(T0)
			fn(t, Open(t, d, clock), clock)
		})
	}
}

// Open returns a fresh, migrated store of the dialect, removed when the
// test ends. PostgreSQL tests are skipped, with the reason, when no server
// answers.
func Open(t testing.TB, d store.Dialect, clock wod.Clock) *store.DB {
	t.Helper()
	var dsn string
	if d == store.SQLite {
		dsn = DSN(t, d)
	} else {
		// A copy of a migrated template: migrating each test's database
		// took a second or more of its two or three.
		dsn = postgresDatabase(t, migratedTemplate(t))
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dsn, clock)
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	// On a copy of the template, this checks that it is at the newest
	// version and applies nothing.
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s store: %v", d, err)
	}
	return db
}

// DSN returns the DSN of a new, empty database of the dialect, dropped when
// the test ends.
func DSN(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite:" + t.TempDir() + "/wod.db"
	}
	return postgresDatabase(t, "")
}

// postgresAdmin connects to the server the tests create their databases
// on, or skips (fails, where required) the test when none answers.
func postgresAdmin(t testing.TB) *sql.DB {
	t.Helper()
	admin := postgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := sql.Open("pgx", admin)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		msg := fmt.Sprintf("PostgreSQL is not reachable at %s (%v); set %s to a server URL to run the PostgreSQL half of the suite",
			store.RedactDSN(admin), err, PostgresEnv)
		if os.Getenv(RequirePostgresEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return conn
}

// postgresDSN is the admin URL pointed at the database.
func postgresDSN(t testing.TB, name string) string {
	t.Helper()
	u, err := url.Parse(postgresAdminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// postgresDatabase creates a database for the test, a copy of template
// ("": the server's empty default), dropped when the test ends, and
// returns its DSN.
func postgresDatabase(t testing.TB, template string) string {
	t.Helper()
	conn := postgresAdmin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "wodtest_" + strings.ToLower(rand.Text()[:16])
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := conn.ExecContext(ctx, create); err != nil {
		conn.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		conn.Close()
	})
	// A throwaway database need not wait for its commits to reach the disk:
	// under load each fsync took tens of milliseconds, and most of the
	// store's tests were spent waiting on them. Only a crash of the server
	// or the machine could lose a commit, and then the test is lost anyway;
	// what a transaction sees and locks is the same.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = off"); err != nil {
		t.Fatalf("configure test database: %v", err)
	}
	return postgresDSN(t, name)
}

// migratedTemplate returns the name of a database migrated to this
// binary's migrations, to copy for each test. It is named by the
// migrations' digest and kept on the server: test binaries running at the
// same time, or later, with the same migrations share it, and other
// migrations get another. Nobody connects to it once it is made (CREATE
// DATABASE refuses to copy a database in use); it is built under a
// temporary name and renamed when complete, so a half-built one is never
// copied.
func migratedTemplate(t testing.TB) string {
	t.Helper()
	digest, err := store.MigrationsDigest(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	name := "wodtemplate_" + digest[:24]
	conn := postgresAdmin(t)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exists := func() bool {
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatalf("find the template database: %v", err)
		}
		return n > 0
	}
	if exists() {
		return name
	}
	build := "wodtemplate_build_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+build); err != nil {
		t.Fatalf("create the template database: %v", err)
	}
	built := false
	defer func() {
		if !built {
			conn.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)")
		}
	}()
	db, err := store.Open(ctx, postgresDSN(t, build), wod.SystemClock{})
	if err != nil {
		t.Fatalf("open the template database: %v", err)
	}
	_, err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		t.Fatalf("migrate the template database: %v", err)
	}
	// The rename waits (up to 5 s) for the migration's sessions to end.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+build+" RENAME TO "+name); err != nil {
		if exists() { // another test binary made it first
			return name
		}
		t.Fatalf("name the template database: %v", err)
	}
	built = true
	return name
}

// Clock is a settable clock for tests, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
