package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

const registrationColumns = `r.id, r.workshop_id, w.slug, r.name, r.email, r.company, r.state, r.seat_id,
	r.location_id, l.name, r.student_number, r.password_enc, r.completion, r.error, r.created_at, r.ready_at, r.ends_at,
	r.ended_at, r.updated_at, COALESCE(s.registration_id = r.id AND s.state <> 'free', FALSE), r.rehearsal_id,
	r.waiting_since, r.seated_at, CASE WHEN r.state = 'waiting' THEN (SELECT COUNT(*) FROM registrations q
		WHERE q.workshop_id = r.workshop_id AND q.state = 'waiting' AND q.id <= r.id) ELSE 0 END, r.self_extended,
	l.base_student_id, l.hub_url`

const registrationFrom = `registrations r JOIN workshops w ON w.id = r.workshop_id JOIN locations l ON l.id = r.location_id
	LEFT JOIN seats s ON s.id = r.seat_id`

func scanRegistration(row scanner) (*wod.Registration, error) {
	var r wod.Registration
	var seat sql.NullInt64
	var completion sql.NullInt64
	var ready, ends, ended sql.NullTime
	var rehearsal sql.NullInt64
	var waiting, seated sql.NullTime
	at := wod.Location{}
	if err := row.Scan(&r.ID, &r.WorkshopID, &r.Workshop, &r.Name, &r.Email, &r.Company, &r.State, &seat,
		&r.LocationID, &r.Location, &r.StudentNumber, &r.PasswordEnc, &completion, &r.Error, &r.CreatedAt, &ready, &ends,
		&ended, &r.UpdatedAt, &r.SeatHeld, &rehearsal, &waiting, &seated, &r.Place, &r.SelfExtended,
		&at.BaseStudentID, &at.HubURL); err != nil {
		return nil, err
	}
	at.ID, at.Name = r.LocationID, r.Location
	r.At = &at
	r.WaitingSince, r.SeatedAt = timePtr(waiting), timePtr(seated)
	r.SeatID, r.RehearsalID = int64Ptr(seat), int64Ptr(rehearsal)
	if completion.Valid {
		c := int(completion.Int64)
		r.Completion = &c
	}
	r.ReadyAt, r.EndsAt, r.EndedAt = timePtr(ready), timePtr(ends), timePtr(ended)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if r.StudentNumber > 0 {
		r.Username = wod.StudentUsername(r.StudentNumber)
	}
	return &r, nil
}

// CreateRegistration books a seat in one transaction: it locks the
// workshop row (on PostgreSQL; SQLite transactions hold the only write
// lock), checks the e-mail and the capacity, takes the lowest free seat of
// the range and inserts the registration with its jobs and mails.
func (db *DB) CreateRegistration(ctx context.Context, nr *wod.NewRegistration) (r *wod.Registration, err error) {
	// A booking holds its connection while it waits for its workshop's
	// lock: a crowd booking the same workshops would otherwise take every
	// connection of the pool, and the agents' claims and reports, which
	// make the booked seats ready, would wait behind it. Half the pool
	// books at once at most; the other bookings wait here, for nothing
	// but a connection of the bookings' half.
	if db.booking != nil {
		select {
		case db.booking <- struct{}{}:
			defer func() { <-db.booking }()
		case <-ctx.Done():
			return nil, fmt.Errorf("create registration: %w", ctx.Err())
		}
	}
	err = db.transact(ctx, func(tx *Tx) error {
		r, err = createRegistration(tx, nr)
		return err
	})
	if isUniqueViolation(err, "registrations_live_email") {
		// Another transaction booked for the same e-mail between our check and
		// our insert: the database's unique index is the last word.
		err = db.transact(ctx, func(tx *Tx) error { return alreadyRegistered(tx, nr.Request.Email) })
	}
	if err != nil {
		return nil, fmt.Errorf("create registration: %w", err)
	}
	return r, nil
}

func createRegistration(tx *Tx, nr *wod.NewRegistration) (*wod.Registration, error) {
	req := nr.Request
	// The workshop's settings, read as its row is locked: what the booking
	// checks, and what its mails are composed from (nr.Welcome, nr.Warm).
	lock := ""
	if tx.db.dialect == Postgres {
		lock = " FOR UPDATE OF w"
	}
	w, err := scanWorkshop(tx.queryRow(`SELECT `+workshopSettingsColumns+` FROM `+workshopFrom+` WHERE w.slug = $1`+lock,
		req.Workshop))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !w.Active) {
		return nil, &wod.Error{Code: wod.EINVALID, Message: "the registration is not valid",
			Fields: []wod.FieldError{{Field: "workshop", Message: fmt.Sprintf("workshop %q does not exist or is not open", req.Workshop)}}}
	}
	if err != nil {
		return nil, err
	}
	var p placed
	subscribers := -1 // of registration.created, read with the checks
	if nr.RehearsalID == nil {
		// The workshop's dates (wod/dates.go): the one place every booking
		// and every newcomer to the line passes. Rehearsals are not bound.
		if err := wod.CheckDates(req.Workshop, w.Opens, w.Closes, tx.now); err != nil {
			return nil, err
		}
		// One statement, read under the workshop's lock (not in the
		// statement that takes it, whose snapshot predates the wait): the
		// capacity is the participants' across all the workshop's locations
		// (a rehearsal's robot is not one); nobody jumps the line (while
		// people wait for this workshop, a newcomer waits behind them); and
		// the e-mail's live registration, if any (the unique index
		// registrations_live_email allows one). The same statement lists
		// the workshop's locations as placement sees them (candidatesSQL),
		// each row repeating the checks.
		var held, line, live int
		var endsAt sql.NullTime
		var seconds sql.NullInt64
		var cs []candidate
		err := queryEach(tx, func(row scanner) error {
			c, ok, err := scanCandidate(thenScan{row, func(row scanner) error {
				return row.Scan(&held, &line, &live, &endsAt, &seconds, &subscribers)
			}})
			if ok {
				cs = append(cs, c)
			}
			return err
		}, `SELECT c.*, n.* FROM (SELECT (SELECT COUNT(*) FROM registrations WHERE workshop_id = $1 AND rehearsal_id IS NULL
			AND state IN `+holdingSQL+`), (SELECT COUNT(*) FROM registrations WHERE workshop_id = $1 AND state = 'waiting'),
			(SELECT COUNT(*) FROM registrations WHERE email = $2 AND state IN `+liveSQL+`),
			(SELECT ends_at FROM registrations WHERE email = $2 AND state IN `+liveSQL+` LIMIT 1),
			(SELECT w.duration_seconds FROM registrations r JOIN workshops w ON w.id = r.workshop_id
				WHERE r.email = $2 AND r.state IN `+liveSQL+` LIMIT 1), `+subscribersSQL(3)+`) AS n
			LEFT JOIN (`+candidatesSQL+`) AS c ON TRUE ORDER BY c.position`,
			w.ID, req.Email, wod.WebhookRegistrationCreated)
		if err != nil {
			return nil, err
		}
		judge(tx, cs, nr.AgentStale)
		if live > 0 {
			return nil, registeredError(tx.now, endsAt, seconds.Int64)
		}
		if held >= w.Capacity || line > 0 {
			return joinLine(tx, nr, w.ID, w.LocationID, w.Closes, fmt.Sprintf("workshop %s is full", req.Workshop))
		}
		p, err = placeSeat(tx, req.Workshop, w.ID, cs, nr.Warm != nil)
		if wod.ErrorCode(err) == wod.EFULL {
			// A waiter's row names the workshop's first location until a
			// seat, wherever it frees, is handed over.
			return joinLine(tx, nr, w.ID, w.LocationID, w.Closes, fmt.Sprintf("workshop %s has no free seat", req.Workshop))
		}
	} else {
		p, err = placeRehearsal(tx, req.Workshop, w.ID, nr.AgentStale)
	}
	if err != nil {
		return nil, err
	}
	seatID, number := p.seatID, p.number
	var id int64
	if err := tx.queryRow(`INSERT INTO registrations (workshop_id, name, email, company, state, seat_id,
		location_id, student_number, client_ip, created_at, updated_at, rehearsal_id)
		VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $9, $10) RETURNING id`,
		w.ID, req.Name, req.Email, req.Company, seatID, p.at.ID, number, req.ClientIP, tx.now,
		nullInt64(nr.RehearsalID)).Scan(&id); err != nil {
		return nil, err
	}
	if p.from == "" {
		p.from = wod.SeatFree // a rehearsal's
	}
	// The state in the WHERE is what makes the seat one holder's: of two
	// bookings that read the same warm seat, the second updates nothing
	// (and registrations_live_seat would refuse it anyway).
	res, err := tx.exec(`UPDATE seats SET state = 'assigned', registration_id = $1, updated_at = $2,
		warm_workshop_id = NULL, warm_password_enc = NULL, warm_content_version = '', warm_job_id = NULL,
		warmed_at = NULL WHERE id = $3 AND state = $4`, id, tx.now, seatID, p.from)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("seat %d was taken under our lock", seatID)
	}
	if p.from == wod.SeatWarm {
		return bookWarm(tx, nr, w, id, p.password, subscribers)
	}
	for _, j := range nr.Jobs {
		j.RegistrationID = &id
		if j.LocationID == nil {
			j.LocationID = &p.at.ID
		}
	}
	if err := insertJobs(tx, nr.Jobs); err != nil {
		return nil, err
	}
	mails := nr.Mails
	if nr.Welcome != nil {
		m, err := nr.Welcome(w)
		if err != nil {
			return nil, err
		}
		mails = append(slices.Clip(mails), m)
	}
	for _, m := range mails {
		m.RegistrationID = &id
		if err := insertMail(tx, m); err != nil {
			return nil, err
		}
	}
	if err := queueRegistrationWebhookTo(tx, wod.WebhookRegistrationCreated, id, subscribers); err != nil {
		return nil, err
	}
	if g := req.Launch; g != nil {
		l := *g
		l.RegistrationID = id
		if err := saveLTILaunch(tx, &l); err != nil {
			return nil, err
		}
	}
	return booked(id, w, req, p, nr.RehearsalID, tx.now), nil
}

// booked is the registration a cold booking inserted, as findRegistration
// would read it back (TestBookedAsStored holds them equal, but for the
// database's precision of times): a crowd's bookings spare that read.
func booked(id int64, w *wod.Workshop, req wod.RegistrationRequest, p placed, rehearsal *int64, now time.Time) *wod.Registration {
	seat, at := p.seatID, p.at
	r := &wod.Registration{ID: id, WorkshopID: w.ID, Workshop: w.Slug, Name: req.Name, Email: req.Email,
		Company: req.Company, State: wod.StatePending, SeatID: &seat, LocationID: at.ID, Location: at.Name,
		StudentNumber: p.number, SeatHeld: true, At: &at, CreatedAt: now, UpdatedAt: now, RehearsalID: rehearsal}
	if r.StudentNumber > 0 {
		r.Username = wod.StudentUsername(r.StudentNumber)
	}
	return r
}

// bookWarm finishes a booking that took a warm seat: the registration is
// ready in the booking's transaction (see wod.NewRegistration.Warm).
func bookWarm(tx *Tx, nr *wod.NewRegistration, w *wod.Workshop, id int64, password []byte, subscribers int) (*wod.Registration, error) {
	r, err := findRegistration(tx, id)
	if err != nil {
		return nil, err
	}
	t, err := nr.Warm(r, w)
	if err != nil {
		return nil, err
	}
	t.RegistrationID, t.PasswordEnc = id, password
	if err := queueRegistrationWebhookTo(tx, wod.WebhookRegistrationCreated, id, subscribers); err != nil {
		return nil, err
	}
	if g := nr.Request.Launch; g != nil {
		l := *g
		l.RegistrationID = id
		if err := saveLTILaunch(tx, &l); err != nil {
			return nil, err
		}
	}
	return transition(tx, t)
}

// rehearsalSeat picks the seat of a rehearsal's robot: the highest free
// seat of the range, out of the way of participants (who take the lowest),
// and only when another seat of the range stays free after it, so that the
// robot never takes the seat a participant arriving next would need. No
// seat: EFULL, which a scheduled rehearsal waits out and an operator's
// request reports.
func rehearsalSeat(tx *Tx, workshop string, locationID int64, seatMin, seatMax int, lock string) (int64, int, error) {
	type seat struct {
		id     int64
		number int
	}
	// Two rows are enough to know: the robot's and one left for a participant.
	free, err := queryAll(tx, func(row scanner) (seat, error) {
		var s seat
		return s, row.Scan(&s.id, &s.number)
	}, `SELECT id, number FROM seats WHERE location_id = $1 AND state = 'free'
		AND number BETWEEN $2 AND $3 ORDER BY number DESC LIMIT 2`+lock, locationID, seatMin, seatMax)
	if err != nil {
		return 0, 0, err
	}
	if len(free) < 2 {
		return 0, 0, wod.Errorf(wod.EFULL, "no free seat for a rehearsal of %s: it takes a seat only while another "+
			"stays free for participants (%d of seats %d-%d free)", workshop, len(free), seatMin, seatMax)
	}
	return free[0].id, free[0].number, nil
}

// alreadyRegistered returns EALREADYREGISTERED if the e-mail holds a live
// registration, with the time it ends (or, before the clock has started,
// the earliest it can end).
func alreadyRegistered(tx *Tx, email string) error {
	var endsAt sql.NullTime
	var seconds int64
	err := tx.queryRow(`SELECT r.ends_at, w.duration_seconds FROM registrations r JOIN workshops w ON w.id = r.workshop_id
		WHERE r.email = $1 AND r.state IN `+liveSQL, email).Scan(&endsAt, &seconds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return registeredError(tx.now, endsAt, seconds)
}

// registeredError is EALREADYREGISTERED for an e-mail whose live
// registration ends at endsAt, or has not started its clock of seconds.
func registeredError(now time.Time, endsAt sql.NullTime, seconds int64) error {
	end := now.Add(time.Duration(seconds) * time.Second)
	if endsAt.Valid {
		end = endsAt.Time.UTC()
	}
	return &wod.Error{Code: wod.EALREADYREGISTERED, EndsAt: &end,
		Message: "this e-mail address already has a workshop running; you can register again once it ends"}
}

// FindRegistration returns one registration.
func (db *DB) FindRegistration(ctx context.Context, id int64) (r *wod.Registration, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		r, err = findRegistration(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find registration %d: %w", id, err)
	}
	return r, nil
}

func findRegistration(tx *Tx, id int64) (*wod.Registration, error) {
	r, err := scanRegistration(tx.queryRow(`SELECT `+registrationColumns+` FROM `+registrationFrom+` WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "registration %d not found", id)
	}
	return r, err
}

// registrationWorkshopColumns are workshopSettingsColumns read beside
// registrationColumns, from registrationWorkshopFrom: the workshop's first
// location is wloc, l being the registration's. scanRegistrationWorkshop
// reads them.
var registrationWorkshopColumns = strings.Replace(workshopSettingsColumns, "w.location_id, l.name,", "w.location_id, wloc.name,", 1)

const registrationWorkshopFrom = registrationFrom + ` JOIN locations wloc ON wloc.id = w.location_id`

func scanRegistrationWorkshop(row scanner) (r *wod.Registration, w *wod.Workshop, err error) {
	r, err = scanRegistration(thenScan{row, func(row scanner) (err error) {
		w, err = scanWorkshop(row)
		return err
	}})
	return r, w, err
}

// FindRegistrationWorkshop returns a registration and its workshop's
// settings (as FindWorkshopSettings reads them) in one statement: an
// agent's claim and report, and a participant's end, need both.
func (db *DB) FindRegistrationWorkshop(ctx context.Context, id int64) (r *wod.Registration, w *wod.Workshop, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		r, w, err = scanRegistrationWorkshop(tx.queryRow(`SELECT `+registrationColumns+`, `+registrationWorkshopColumns+
			` FROM `+registrationWorkshopFrom+` WHERE r.id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "registration %d not found", id)
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find registration %d: %w", id, err)
	}
	return r, w, nil
}

// FindJobRegistration returns a job and, when it has one, its
// registration and the registration's workshop settings: an agent's report
// needs all three, in one statement when the job has a registration (a
// second reads a job without one).
func (db *DB) FindJobRegistration(ctx context.Context, jobID int64) (j *wod.Job, r *wod.Registration, w *wod.Workshop, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		row := tx.queryRow(`SELECT `+prefixed("j.", jobColumns)+`, `+registrationColumns+`, `+registrationWorkshopColumns+`
			FROM `+registrationWorkshopFrom+` JOIN jobs j ON j.registration_id = r.id WHERE j.id = $1`, jobID)
		j, err = scanJob(thenScan{row, func(row scanner) (err error) {
			r, w, err = scanRegistrationWorkshop(row)
			return err
		}})
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		j, err = db.FindJob(ctx, jobID)
		return j, nil, nil, err
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("find job %d: %w", jobID, err)
	}
	return j, r, w, nil
}

// FindRegistrations lists registrations, newest first.
func (db *DB) FindRegistrations(ctx context.Context, f wod.RegistrationFilter) (rs []*wod.Registration, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.State != nil {
			w.add("r.state = ?", *f.State)
		}
		if f.Workshop != nil {
			w.add("r.workshop_id IN (SELECT id FROM workshops WHERE slug = ?)", *f.Workshop)
		}
		if f.Email != nil {
			w.add("r.email = ?", *f.Email)
		}
		if f.Search != nil {
			pat := "%" + escapeLike(*f.Search) + "%"
			w.add(`(LOWER(r.name) LIKE LOWER(?) ESCAPE '\' OR r.email LIKE LOWER(?) ESCAPE '\' OR LOWER(r.company) LIKE LOWER(?) ESCAPE '\')`, pat, pat, pat)
		}
		// Every condition is on r alone: the count needs no join.
		if total, err = count(tx, "registrations r", &w); err != nil {
			return err
		}
		rs, err = queryAll(tx, scanRegistration, `SELECT `+registrationColumns+` FROM `+registrationFrom+w.String()+
			` ORDER BY r.id DESC`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find registrations: %w", err)
	}
	return rs, total, nil
}

func escapeLike(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '_' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
