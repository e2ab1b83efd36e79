package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

var t0 = storetest.T0

// TestMigrationFoldersMatch keeps the two dialects' migrations in step.
func TestMigrationFoldersMatch(t *testing.T) {
	t.Parallel()
	list := func(dir string) []string {
		var names []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, d.Name())
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	sq, pg := list("migrations/sqlite"), list("migrations/postgres")
	if !slices.Equal(sq, pg) {
		t.Fatalf("migration files differ:\nsqlite:   %v\npostgres: %v", sq, pg)
	}
	if len(sq) == 0 {
		t.Fatal("no migrations found")
	}
}

// TestSchemasMatch checks that both dialects end up with the same tables and
// columns.
func TestSchemasMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	columns := map[store.Dialect][]string{}
	for _, d := range storetest.Dialects {
		dsn := storetest.DSN(t, d)
		db := openRaw(t, d, dsn)
		var q string
		if d == store.SQLite {
			q = `SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
				WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`
		} else {
			q = `SELECT table_name || '.' || column_name FROM information_schema.columns
				WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`
		}
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			columns[d] = append(columns[d], c)
		}
		rows.Close()
		sort.Strings(columns[d])
	}
	if len(columns[store.SQLite]) < 50 {
		t.Fatalf("sqlite schema has only %d columns", len(columns[store.SQLite]))
	}
	if !slices.Equal(columns[store.SQLite], columns[store.Postgres]) {
		t.Fatalf("schemas differ:\nsqlite:   %v\npostgres: %v", columns[store.SQLite], columns[store.Postgres])
	}
}

// openRaw migrates a store at dsn and returns a plain connection to it.
func openRaw(t *testing.T, d store.Dialect, dsn string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Migrate(ctx)
	if err != nil || n == 0 {
		t.Fatalf("migrate: applied %d, %v", n, err)
	}
	// A second run applies nothing.
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate: applied %d, %v", n, err)
	}
	cur, latest, err := s.MigrationVersions(ctx)
	if err != nil || cur != latest || latest == 0 {
		t.Fatalf("versions: current %d latest %d err %v", cur, latest, err)
	}
	s.Close()
	driver, src := "sqlite", strings.TrimPrefix(dsn, "sqlite:")
	if d == store.Postgres {
		driver, src = "pgx", dsn
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, dsn := range []string{"mysql://x", "sqlite:", "postgres://nobody:secret@127.0.0.1:1/x?connect_timeout=1"} {
		_, err := store.Open(ctx, dsn, nil)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("Open(%q) error leaks the password: %v", dsn, err)
		}
	}
	// A file that is not a database is refused clearly.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte("this is not sqlite, just some text that is long enough to matter"), 0o600)
	if db, err := store.Open(ctx, "sqlite:"+bad, nil); err == nil {
		if _, err := db.Migrate(ctx); err == nil {
			t.Fatal("migrating a non-database file succeeded")
		}
	}
}

// fixture creates a location with n seats and an active workshop using
// seats min..max with the given capacity.
func fixture(t *testing.T, db *store.DB, students, min, max, capacity int) (*wod.Location, *wod.Workshop) {
	t.Helper()
	ctx := context.Background()
	l := &wod.Location{Name: "local", HubURL: "http://127.0.0.1:8000", Students: students}
	if err := db.CreateLocation(ctx, l); err != nil {
		t.Fatalf("create location: %v", err)
	}
	w := &wod.Workshop{Slug: "WKSHP-API101", Title: "API 101", Duration: wod.Duration(2 * time.Hour),
		Capacity: capacity, SeatMin: min, SeatMax: max, LocationID: l.ID, Active: true,
		Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop, Categories: []string{"Open Source"}}
	if err := db.CreateWorkshop(ctx, w); err != nil {
		t.Fatalf("create workshop: %v", err)
	}
	return l, w
}

func register(db *store.DB, workshop, email string) (*wod.Registration, error) {
	return db.CreateRegistration(context.Background(), &wod.NewRegistration{Request: wod.RegistrationRequest{
		Workshop: workshop, Name: "Ann Smith", Email: email, Company: "ACME"}})
}

// The tests' template databases are named by this digest: it must be
// stable and differ between the dialects.
func TestMigrationsDigest(t *testing.T) {
	t.Parallel()
	pg, err := store.MigrationsDigest(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := store.MigrationsDigest(store.Postgres)
	lite, err := store.MigrationsDigest(store.SQLite)
	if err != nil || len(pg) != 64 || pg != again || lite == pg {
		t.Fatalf("digests %q %q %q %v", pg, again, lite, err)
	}
}

// withPool adds pool_max_conns=n to a PostgreSQL URL.
func withPool(dsn, n string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&pool_max_conns=" + n
	}
	return dsn + "?pool_max_conns=" + n
}

// TestOpenPoolSize: a PostgreSQL URL may size the pool (pool_max_conns),
// which the server never sees as a setting; a size that is no number is
// refused.
func TestOpenPoolSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.DSN(t, store.Postgres)
	db, err := store.Open(ctx, withPool(dsn, "3"), nil)
	if err != nil {
		t.Fatalf("Open with pool_max_conns=3: %v", err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate through a pool of 3: %v", err)
	}
	if _, err := store.Open(ctx, withPool(dsn, "lots"), nil); err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Fatalf("Open with pool_max_conns=lots: %v, want it refused", err)
	}
}

// TestBookingsOnATinyPool: a crowd books through a pool of two connections
// (PostgreSQL), of which bookings take one at most, while an agent claims
// their creates meanwhile: every booking gets its own seat, and the claims
// get through while bookings are under way.
func TestBookingsOnATinyPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, withPool(storetest.DSN(t, store.Postgres), "2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	l, w := fixture(t, db, 20, 1, 20, 20)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if _, err := db.CreateRegistration(ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "P", Email: fmt.Sprintf("p%d@example.com", i)},
				Jobs:    []*wod.Job{{Kind: wod.JobCreate}}}); err != nil {
				t.Errorf("register %d: %v", i, err)
			}
		})
	}
	claimed := 0
	for deadline := time.Now().Add(time.Minute); claimed < 16; {
		if time.Now().After(deadline) {
			t.Fatalf("claimed %d creates of 16 in a minute", claimed)
		}
		js, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobCreate}, &l.ID, "agent", time.Minute, 4)
		if err != nil {
			t.Fatal(err)
		}
		claimed += len(js)
		if len(js) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	wg.Wait()
	n, err := db.QueryInts(ctx, `SELECT COUNT(DISTINCT seat_id) FROM registrations WHERE state = 'pending'`)
	if err != nil || n[0] != 16 {
		t.Fatalf("seats of the 16 bookings: %v %v", n, err)
	}
}
