// Package originaltest builds an original Workshops-on-Demand api-db in a
// throwaway PostgreSQL database, for tests of wod import-legacy.
package originaltest

import (
	"database/sql"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// originalSchema is the api-db's tables as its Sequelize migration
// creates them (reference §2.3).
const originalSchema = `
CREATE TABLE workshops (id SERIAL PRIMARY KEY, name VARCHAR(255), notebook VARCHAR(255), description TEXT,
  active BOOLEAN DEFAULT false, capacity INTEGER, priority INTEGER, range INTEGER[], reset BOOLEAN DEFAULT false,
  ldap BOOLEAN DEFAULT false, "sessionId" INTEGER, "sessionType" VARCHAR(255), location VARCHAR(255),
  avatar VARCHAR(255), role VARCHAR(255), presenter VARCHAR(255), "preRequisite" TEXT, "replayLink" TEXT,
  compile VARCHAR(1234), varpass BOOLEAN DEFAULT false, "replayId" INTEGER, "workshopImg" VARCHAR(255),
  "badgeImg" VARCHAR(255), monoappliance BOOLEAN DEFAULT false, multiappliance BOOLEAN DEFAULT false,
  beta BOOLEAN DEFAULT false, category TEXT[], "alternateLocation" TEXT[], duration INTEGER DEFAULT 4,
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE students (id SERIAL PRIMARY KEY, url VARCHAR(255), username VARCHAR(255), password VARCHAR(255),
  assigned BOOLEAN DEFAULT false, location VARCHAR(255),
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE customers (id SERIAL PRIMARY KEY, name VARCHAR(255), email VARCHAR(255), company VARCHAR(255),
  "sessionName" VARCHAR(255), "sessionType" VARCHAR(255), location VARCHAR(255), notebook VARCHAR(255),
  proxy VARCHAR(255), active BOOLEAN DEFAULT false, cleaned BOOLEAN DEFAULT false, "lastEmailSent" VARCHAR(255),
  hours INTEGER, "startDate" TIMESTAMPTZ NOT NULL, "endDate" TIMESTAMPTZ NOT NULL,
  "studentId" INTEGER REFERENCES students (id), "specialBadgeId" INTEGER, "completionPercentage" INTEGER DEFAULT 0,
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE locations (id SERIAL PRIMARY KEY, name VARCHAR(255), basestdid INTEGER, proto VARCHAR(255),
  port VARCHAR(255), "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE roles (id SERIAL PRIMARY KEY, name VARCHAR(255), "userId" INTEGER,
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(255), email VARCHAR(255), password VARCHAR(255),
  "roleId" INTEGER, "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE user_roles ("roleId" INTEGER REFERENCES roles (id), "userId" INTEGER REFERENCES users (id),
  "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ("roleId", "userId"));
CREATE TABLE special_badges (id SERIAL PRIMARY KEY, name VARCHAR(255), title VARCHAR(255), description TEXT,
  "badgeImg" VARCHAR(255), "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(), "updatedAt" TEXT);
`

// Original builds an api-db shaped like a site's after months of use,
// with the original's oddities, and returns its DSN and the admin's
// password.
func Original(t *testing.T, now time.Time) (dsn, adminPassword string) {
	t.Helper()
	dsn = storetest.DSN(t, store.Postgres)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	adminPassword = "Correct-Horse-" + t.Name()
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), 6) // pgcrypto's gen_salt('bf') cost
	if err != nil {
		t.Fatal(err)
	}
	past := now.Add(-30 * 24 * time.Hour)
	stmts := []string{originalSchema,
		// Two backends of 3 students each, and one seeded without basestdid.
		`INSERT INTO locations (name, basestdid, proto, port) VALUES
			('be1.example.org', 0, 'https', '443'), ('be2.example.org', 3, 'http', '8000'), ('be3.example.org', NULL, 'https', '443')`,
		`INSERT INTO students (id, username, password, assigned, location) VALUES
			(1, 'student1', 'MyNewPassword', true, 'be1.example.org'), (2, 'student2', 'Eves-Password', true, 'be1.example.org'),
			(3, 'student3', 'x', true, 'be1.example.org'), (4, 'student1', 'x', false, 'be2.example.org'),
			(5, 'student2', 'x', false, 'be2.example.org'), (6, 'student3', 'x', false, 'be2.example.org'),
			(7, 'student1', 'x', false, 'be3.example.org')`,
		`INSERT INTO workshops (name, notebook, description, active, capacity, priority, range, reset, ldap,
			"sessionType", location, compile, varpass, "replayId", monoappliance, beta, category, duration) VALUES
			('Python 101', 'WKSHP-Python101', 'Learn Python', true, 1, 2, '{1,3}', false, false,
			 'Workshops-on-Demand', 'be1.example.org', 'false', false, 7, false, false, '{"Open Source",python}', 4),
			('API 101', 'WKSHP-API101', 'REST', true, 3, 1, '{1,3}', true, true,
			 'Coding Challenge', 'be2.example.org', 'setup.sh,run.sh', true, NULL, true, true, NULL, 2),
			('Orphan', 'WKSHP-Orphan', 'nowhere', true, 5, 3, '{1,2}', false, false,
			 'Workshops-on-Demand', 'gone.example.org', NULL, false, NULL, false, false, NULL, 4)`,
		`INSERT INTO special_badges (id, name, title) VALUES (1, 'Apprentice', 'a'), (2, 'Expert', 'e'), (3, 'Hero', 'h'),
			(4, 'Super Hero', 's'), (5, 'Legend', 'l'), (6, 'Mystery', 'm')`,
		`INSERT INTO roles (id, name) VALUES (1, 'user'), (2, 'moderator'), (3, 'admin')`,
		`INSERT INTO users (id, username, email, password) VALUES (1, 'moderator', 'mod@example.org', '` + string(hash) + `'),
			(2, 'hackshack', 'admin@example.org', '` + string(hash) + `'), (3, 'someone', 'x@example.org', '` + string(hash) + `'),
			(4, 'nopass', '', '')`,
		`INSERT INTO user_roles ("roleId", "userId") VALUES (1, 1), (2, 1), (1, 2), (3, 2), (1, 3), (1, 4), (3, 4)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("build the original: %v\n%s", err, s)
		}
	}
	customers := []struct {
		name, email, session, last string
		student, badge, pct        any
		end                        time.Time
	}{
		{"Ann Lee", "Ann@Example.org", "Python 101", "expired", 4, 1, 80, past},
		{"Ann Lee", "ann@example.org", "API 101", "unregister", 5, nil, 20, past.Add(time.Hour)},
		{"Bob", "bob@example.org", "API 101", "error", 6, nil, 0, past},
		// The original's NaN student id: a registration that never got one.
		{"Cy", "cy@example.org", "Python 101", "expired", nil, nil, 100, past},
		// The badgeImg crash leaves expired customers at 'credentials'
		// forever; a day after their end they are history.
		{"Dee", "dee@example.org", "Python 101", "credentials", 1, 6, 50, past},
		// Live now.
		{"Eve", "eve@example.org", "Python 101", "credentials", 2, nil, 0, now.Add(2 * time.Hour)},
		{"Fay", "fay@example.org", "Python 101", "", 3, nil, 0, now.Add(3 * time.Hour)},
		{"Gus", "gus@example.org", "Vanished Workshop", "expired", nil, nil, 0, past},
	}
	for _, c := range customers {
		var last any
		if c.last != "" {
			last = c.last
		}
		if _, err := db.Exec(`INSERT INTO customers (name, email, "sessionName", location, "lastEmailSent", "studentId",
			"specialBadgeId", "completionPercentage", hours, "startDate", "endDate", "createdAt", active)
			VALUES ($1, $2, $3, 'be1.example.org', $4, $5, $6, $7, 4, $8, $9, $8, $10)`,
			c.name, c.email, c.session, last, c.student, c.badge, c.pct, c.end.Add(-4*time.Hour), c.end, c.last == "credentials"); err != nil {
			t.Fatalf("customer %s: %v", c.name, err)
		}
	}
	return dsn, adminPassword
}
