// Package apidbimport brings an original Workshops-on-Demand api-db (its
// PostgreSQL database, reference §2.3) into wod: locations, workshops,
// finished customers as past registrations with their badges, and
// operators with their bcrypt hashes.
package apidbimport

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// The original's rows, as read. Nullable columns stay nullable: the
// original's data has holes (a location without basestdid, a customer
// without a student).
type (
	oldLocation struct {
		ID        int64
		Name      string
		BaseStdID sql.NullInt64
		Proto     sql.NullString
		Port      sql.NullString
	}
	oldStudent struct {
		ID       int64
		Location string
		Password string
		Assigned bool
	}
	oldWorkshop struct {
		ID                                                 int64
		Name, Notebook, Description, SessionType, Location string
		Active, Reset, LDAP, VarPass, Mono, Multi, Beta    bool
		Capacity, Priority, ReplayID, Duration             sql.NullInt64
		Range, Category                                    []string
		Compile, Avatar, Role, Presenter, PreRequisite     string
		ReplayLink, WorkshopImg, BadgeImg                  string
	}
	oldCustomer struct {
		ID                                    int64
		Name, Email, Company, SessionName     string
		Location, Notebook                    string
		Active                                bool
		LastEmailSent                         sql.NullString
		StartDate, EndDate, CreatedAt         time.Time
		StudentID, SpecialBadgeID, Completion sql.NullInt64
	}
	oldUser struct {
		ID                        int64
		Username, Email, Password string
		Roles                     []string
	}
	source struct {
		locations []oldLocation
		students  map[int64]oldStudent
		workshops []oldWorkshop
		customers []oldCustomer
		badges    map[int64]string // special_badges id → name
		users     []oldUser
	}
)

// read loads the tables wod imports, in one read-only transaction so that
// a site still running the original gives a consistent picture.
func read(ctx context.Context, dsn string) (*source, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the original api-db: %w", err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("open the original api-db: %w", err)
	}
	defer tx.Rollback()
	s := &source{students: map[int64]oldStudent{}, badges: map[int64]string{}}
	steps := []struct {
		table string
		query string
		scan  func(*sql.Rows) error
	}{
		{"locations", `SELECT id, COALESCE(name, ''), basestdid, proto, port FROM locations ORDER BY id`, func(r *sql.Rows) error {
			var l oldLocation
			err := r.Scan(&l.ID, &l.Name, &l.BaseStdID, &l.Proto, &l.Port)
			s.locations = append(s.locations, l)
			return err
		}},
		{"students", `SELECT id, COALESCE(location, ''), COALESCE(password, ''), COALESCE(assigned, false) FROM students ORDER BY id`, func(r *sql.Rows) error {
			var st oldStudent
			err := r.Scan(&st.ID, &st.Location, &st.Password, &st.Assigned)
			s.students[st.ID] = st
			return err
		}},
		{"workshops", `SELECT id, COALESCE(name, ''), COALESCE(notebook, ''), COALESCE(description, ''),
			COALESCE("sessionType", ''), COALESCE(location, ''), COALESCE(active, false), COALESCE(reset, false),
			COALESCE(ldap, false), COALESCE(varpass, false), COALESCE(monoappliance, false),
			COALESCE(multiappliance, false), COALESCE(beta, false), capacity, priority, "replayId", duration,
			COALESCE(range::text, ''), COALESCE(category::text, ''), COALESCE(compile, ''), COALESCE(avatar, ''),
			COALESCE(role, ''), COALESCE(presenter, ''), COALESCE("preRequisite", ''), COALESCE("replayLink", ''),
			COALESCE("workshopImg", ''), COALESCE("badgeImg", '') FROM workshops ORDER BY id`, func(r *sql.Rows) error {
			var w oldWorkshop
			var rng, cat string
			err := r.Scan(&w.ID, &w.Name, &w.Notebook, &w.Description, &w.SessionType, &w.Location, &w.Active,
				&w.Reset, &w.LDAP, &w.VarPass, &w.Mono, &w.Multi, &w.Beta, &w.Capacity, &w.Priority, &w.ReplayID,
				&w.Duration, &rng, &cat, &w.Compile, &w.Avatar, &w.Role, &w.Presenter, &w.PreRequisite,
				&w.ReplayLink, &w.WorkshopImg, &w.BadgeImg)
			w.Range, w.Category = pgArray(rng), pgArray(cat)
			s.workshops = append(s.workshops, w)
			return err
		}},
		{"customers", `SELECT id, COALESCE(name, ''), COALESCE(email, ''), COALESCE(company, ''),
			COALESCE("sessionName", ''), COALESCE(location, ''), COALESCE(notebook, ''), COALESCE(active, false),
			"lastEmailSent", "startDate", "endDate", "createdAt", "studentId", "specialBadgeId",
			"completionPercentage" FROM customers ORDER BY id`, func(r *sql.Rows) error {
			var c oldCustomer
			err := r.Scan(&c.ID, &c.Name, &c.Email, &c.Company, &c.SessionName, &c.Location, &c.Notebook,
				&c.Active, &c.LastEmailSent, &c.StartDate, &c.EndDate, &c.CreatedAt, &c.StudentID,
				&c.SpecialBadgeID, &c.Completion)
			s.customers = append(s.customers, c)
			return err
		}},
		{"special_badges", `SELECT id, COALESCE(name, '') FROM special_badges`, func(r *sql.Rows) error {
			var id int64
			var name string
			err := r.Scan(&id, &name)
			s.badges[id] = name
			return err
		}},
		{"users", `SELECT u.id, COALESCE(u.username, ''), COALESCE(u.email, ''), COALESCE(u.password, ''),
			COALESCE(string_agg(r.name, ',' ORDER BY r.id), '')
			FROM users u LEFT JOIN user_roles ur ON ur."userId" = u.id LEFT JOIN roles r ON r.id = ur."roleId"
			GROUP BY u.id ORDER BY u.id`, func(r *sql.Rows) error {
			var u oldUser
			var roles string
			err := r.Scan(&u.ID, &u.Username, &u.Email, &u.Password, &roles)
			if roles != "" {
				u.Roles = strings.Split(roles, ",")
			}
			s.users = append(s.users, u)
			return err
		}},
	}
	for _, st := range steps {
		rows, err := tx.QueryContext(ctx, st.query)
		if err != nil {
			return nil, fmt.Errorf("read the original's %s: %w", st.table, err)
		}
		for rows.Next() {
			if err := st.scan(rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the original's %s: %w", st.table, err)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read the original's %s: %w", st.table, err)
		}
	}
	return s, nil
}

// pgArray splits PostgreSQL's text form of a one-dimensional array
// ({a,"b c",NULL}); NULL elements become empty strings.
func pgArray(s string) []string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil
	}
	s = s[1 : len(s)-1]
	var out []string
	var cur strings.Builder
	quoted, inQuotes, escaped := false, false, false
	flush := func() {
		v := cur.String()
		if !quoted && v == "NULL" {
			v = ""
		}
		out = append(out, v)
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			cur.WriteByte(c)
			escaped = false
		case c == '\\' && inQuotes:
			escaped = true
		case c == '"':
			inQuotes, quoted = !inQuotes, true
		case c == ',' && !inQuotes:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	if s != "" {
		flush()
	}
	return out
}

// atoi reads an array element as a number (false when it is not one).
func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}
