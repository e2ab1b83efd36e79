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

// Transition applies one step of a registration's life atomically; see
// wod.Transition.
func (db *DB) Transition(ctx context.Context, t *wod.Transition) (r *wod.Registration, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		r, err = transition(tx, t)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registration %d to %s: %w", t.RegistrationID, t.To, err)
	}
	return r, nil
}

// Apply applies one step of a registration's life atomically, as
// Transition does, without reading the registration back: most steps of
// the engine (an agent's report, a timer) need nothing of it after.
func (db *DB) Apply(ctx context.Context, t *wod.Transition) error {
	err := db.transact(ctx, func(tx *Tx) error { return step(tx, t) })
	if err != nil {
		return fmt.Errorf("registration %d to %s: %w", t.RegistrationID, t.To, err)
	}
	return nil
}

func transition(tx *Tx, t *wod.Transition) (*wod.Registration, error) {
	if err := step(tx, t); err != nil {
		return nil, err
	}
	return findRegistration(tx, t.RegistrationID)
}

func step(tx *Tx, t *wod.Transition) error {
	sets := []string{"state = $1", "updated_at = $2"}
	args := []any{t.To, tx.now}
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if t.ReadyAt != nil {
		set("ready_at", t.ReadyAt.UTC())
	}
	if t.EndsAt != nil {
		set("ends_at", t.EndsAt.UTC())
	}
	if t.EndedAt != nil {
		set("ended_at", t.EndedAt.UTC())
	}
	if t.PasswordEnc != nil {
		set("password_enc", t.PasswordEnc)
	}
	if t.Completion != nil {
		set("completion", *t.Completion)
	}
	if t.Error != nil {
		set("error", *t.Error)
	}
	update := `UPDATE registrations SET ` + strings.Join(sets, ", ") + fmt.Sprintf(` WHERE id = $%d`, len(args)+1)
	args = append(args, t.RegistrationID)
	state, seat, email, subscribers, err := applyTransition(tx, t, update, args)
	if err != nil {
		return err
	}
	// An extension takes an expiring session back to ready: the clock
	// moved, the credentials did not go out again, so no "ready" event.
	if typ, ok := wod.WebhookOnState(t.To); ok && state != t.To && !(state.Running() && t.To.Running()) {
		if err := queueRegistrationWebhookTo(tx, typ, t.RegistrationID, subscribers); err != nil {
			return err
		}
	}
	if t.Seat != nil && seat.Valid {
		if err := moveSeat(tx, seat.Int64, t.RegistrationID, *t.Seat); err != nil {
			return err
		}
	}
	if err := finishJobs(tx, t.RegistrationID, t.Cancel, t.Done); err != nil {
		return err
	}
	if err := scheduleJobs(tx, t.RegistrationID, t.Jobs); err != nil {
		return err
	}
	for _, m := range t.Mails {
		m.RegistrationID = &t.RegistrationID
		if err := insertMail(tx, m); err != nil {
			return err
		}
	}
	if t.Badge != nil {
		if _, err := tx.exec(`INSERT INTO badges_earned (email, level, registration_id, earned_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (email, level) DO NOTHING`, email, t.Badge.Level, t.RegistrationID, tx.now); err != nil {
			return err
		}
	}
	if t.Notebooks != nil {
		if _, err := tx.exec(`INSERT INTO registration_notebooks (registration_id, data, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (registration_id) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`,
			t.RegistrationID, t.Notebooks, tx.now); err != nil {
			return err
		}
	}
	if t.Event != nil {
		if err := recordEvent(tx, t.Event); err != nil {
			return err
		}
	}
	return nil
}

// applyTransition runs the transition's update of the registration row,
// from one of its states, and returns the state it was in, its seat, its
// e-mail and the subscribers of the webhook its new state raises (-1: not
// read). When which of its From states the row was in changes nothing the
// step does (one state, as for most steps, or states that all raise the
// same webhook or none, as for an end), the update says it all in one
// statement: fenced by the states in its WHERE (PostgreSQL re-reads the
// row after waiting for its lock), it changes nothing when the
// registration moved on. Otherwise (or for a participant's extension,
// checked first) the row is locked and read first.
func applyTransition(tx *Tx, t *wod.Transition, update string, args []any) (state wod.RegistrationState,
	seat sql.NullInt64, email string, subscribers int, err error) {
	if len(t.From) > 0 && !t.SelfExtend && sameWebhook(t) {
		typ, _ := wod.WebhookOnState(t.To)
		states := make([]string, len(t.From))
		for i, from := range t.From {
			args = append(args, from)
			states[i] = fmt.Sprintf("$%d", len(args))
		}
		err := tx.queryRow(update+` AND state IN (`+strings.Join(states, ", ")+`) RETURNING seat_id, email, `+
			subscribersSQL(len(args)+1), append(args, typ)...).Scan(&seat, &email, &subscribers)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.queryRow(`SELECT state FROM registrations WHERE id = $1`, t.RegistrationID).Scan(&state)
			if errors.Is(err, sql.ErrNoRows) {
				return "", seat, "", 0, wod.Errorf(wod.ENOTFOUND, "registration %d not found", t.RegistrationID)
			}
			if err == nil {
				err = wod.Errorf(wod.ECONFLICT, "registration %d is %s", t.RegistrationID, state)
			}
		}
		return t.From[0], seat, email, subscribers, err
	}
	err = tx.queryRow(`SELECT state, seat_id, email FROM registrations WHERE id = $1`+tx.forUpdate(), t.RegistrationID).
		Scan(&state, &seat, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", seat, "", 0, wod.Errorf(wod.ENOTFOUND, "registration %d not found", t.RegistrationID)
	}
	if err != nil {
		return "", seat, "", 0, err
	}
	if !slices.Contains(t.From, state) {
		return "", seat, "", 0, wod.Errorf(wod.ECONFLICT, "registration %d is %s", t.RegistrationID, state)
	}
	if t.SelfExtend {
		if err := claimSelfExtension(tx, t.RegistrationID); err != nil {
			return "", seat, "", 0, err
		}
	}
	_, err = tx.exec(update, args...)
	return state, seat, email, -1, err
}

// sameWebhook says whether the transition raises the same webhook from
// each of its From states (see step), or none from any.
func sameWebhook(t *wod.Transition) bool {
	raises := func(from wod.RegistrationState) bool {
		_, ok := wod.WebhookOnState(t.To)
		return ok && from != t.To && !(from.Running() && t.To.Running())
	}
	return !slices.ContainsFunc(t.From, func(from wod.RegistrationState) bool { return raises(from) != raises(t.From[0]) })
}

// moveSeat frees a seat or marks it dirty, if it still belongs to the
// registration. A freed seat goes to the waiting line at once, in this
// same transaction.
func moveSeat(tx *Tx, seatID, registrationID int64, to wod.SeatState) error {
	var err error
	switch to {
	case wod.SeatFree:
		if err := lockSeatWorkshops(tx, seatID); err != nil {
			return err
		}
		var locationID int64
		err = tx.queryRow(`UPDATE seats SET state = 'free', registration_id = NULL, updated_at = $1
			WHERE id = $2 AND registration_id = $3 RETURNING location_id`, tx.now, seatID, registrationID).Scan(&locationID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // no longer this registration's: nothing freed
		}
		if err == nil {
			_, err = serveLine(tx, locationID)
		}
	case wod.SeatDirty, wod.SeatAssigned:
		_, err = tx.exec(`UPDATE seats SET state = $1, updated_at = $2 WHERE id = $3 AND registration_id = $4`,
			to, tx.now, seatID, registrationID)
	default:
		err = fmt.Errorf("unknown seat state %q", to)
	}
	return err
}

// scheduleJobs inserts a registration's jobs, or re-queues its job of
// the same kind with the new time and arguments: in one statement when
// their kinds differ (a ready step's expiry and reminder).
func scheduleJobs(tx *Tx, registrationID int64, js []*wod.Job) error {
	for _, j := range js {
		j.RegistrationID = &registrationID
	}
	kinds, distinct := jobsByKind(js)
	if !distinct {
		// An upsert may not touch a row twice: one kind at a time.
		for _, j := range js {
			if err := scheduleJobs(tx, registrationID, []*wod.Job{j}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(js) == 0 {
		return nil
	}
	var values []string
	args := []any{registrationID, tx.now} // $1, $2
	var notifying []string
	for _, j := range js {
		a := storedArgs(j)
		n := len(args)
		// The registration's location unless the job names one, in the
		// INSERT itself.
		values = append(values, fmt.Sprintf(`($%d, $1, COALESCE($%d, (SELECT location_id FROM registrations WHERE id = $1)),
			'queued', $%d, $%d, $%d, $2, $2)`, n+1, n+2, n+3, n+4, n+5))
		args = append(args, j.Kind, nullInt64(j.LocationID), j.RunAt.UTC(), j.MaxAttempts, a)
		if j.Kind.AgentKind() && !j.RunAt.After(tx.now) {
			args = append(args, j.Kind)
			notifying = append(notifying, fmt.Sprintf("$%d", len(args)))
		}
	}
	// An agent job due now (a cleanup after an end) wakes the claims of its
	// location on every replica, as insertJobs's do, from the RETURNING.
	notify := "''"
	if tx.db.dialect == Postgres && len(notifying) > 0 {
		notify = `CASE WHEN kind IN (` + strings.Join(notifying, ", ") + `) THEN pg_notify('` + agentJobsChannel +
			`', location_id::text)::text ELSE '' END`
	}
	type scheduled struct {
		id, location int64
		kind         wod.JobKind
	}
	rows, err := queryAll(tx, func(row scanner) (scheduled, error) {
		var r scheduled
		var loc sql.NullInt64
		var notified sql.NullString
		err := row.Scan(&r.id, &r.kind, &loc, &notified)
		r.location = loc.Int64
		return r, err
	}, `INSERT INTO jobs (kind, registration_id, location_id, state, run_at, max_attempts, args, created_at, updated_at)
		VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (registration_id, kind) WHERE registration_id IS NOT NULL DO UPDATE SET state = 'queued',
		run_at = excluded.run_at, attempts = 0, max_attempts = excluded.max_attempts, lease_until = NULL,
		leased_by = '', last_error = '', args = excluded.args, dismissed_at = NULL, updated_at = excluded.updated_at
		RETURNING id, kind, location_id, `+notify, args...)
	if err != nil {
		return err
	}
	if len(rows) != len(js) {
		return fmt.Errorf("scheduled %d jobs, want %d", len(rows), len(js))
	}
	for _, r := range rows {
		j := kinds[r.kind]
		j.ID = r.id
		if r.location != 0 {
			j.LocationID = &r.location
		} else {
			j.LocationID = nil
		}
	}
	return nil
}

// leaseKept reports whether an update fenced by a job's attempt (WHERE
// state = 'running' AND attempts = …) found the job: ECONFLICT when the
// worker's lease was lost to another attempt.
func leaseKept(res sql.Result, jobID int64, attempt int) error {
	if n, _ := res.RowsAffected(); n != 1 {
		return lostLease(jobID, attempt)
	}
	return nil
}

func lostLease(jobID int64, attempt int) error {
	return wod.Errorf(wod.ECONFLICT, "job %d attempt %d is no longer running: its lease was lost", jobID, attempt)
}

func completeJob(tx *Tx, d *wod.JobCompletion) error {
	res, err := tx.exec(`UPDATE jobs SET state = 'done', result = $1, output = $2, lease_until = NULL, last_error = '',
		updated_at = $3 WHERE id = $4 AND state = 'running' AND attempts = $5`, jobResult(d), d.Output, tx.now, d.JobID, d.Attempt)
	if err != nil {
		return err
	}
	return leaseKept(res, d.JobID, d.Attempt)
}

func jobResult(d *wod.JobCompletion) string {
	if len(d.Result) == 0 {
		return "{}"
	}
	return string(d.Result)
}

// finishJobs cancels the registration's queued jobs of the kinds and
// completes the job done, fenced by its attempt: in one statement when
// there are both (an agent's create report cancels the watchdog).
func finishJobs(tx *Tx, registrationID int64, cancel []wod.JobKind, done *wod.JobCompletion) error {
	if len(cancel) == 0 {
		if done == nil {
			return nil
		}
		return completeJob(tx, done)
	}
	w := where{args: []any{tx.now}} // $1, for the SET clause
	w.add("registration_id = ?", registrationID)
	w.add("state = 'queued'")
	w.add(inList("kind", len(cancel)), kindArgs(cancel)...)
	if done == nil {
		_, err := tx.exec(`UPDATE jobs SET state = 'cancelled', updated_at = $1`+w.String(), w.args...)
		return err
	}
	n := len(w.args)
	args := append(w.args, done.JobID, done.Attempt, jobResult(done), done.Output)
	id, attempt, result, output := fmt.Sprintf("$%d", n+1), fmt.Sprintf("$%d", n+2), fmt.Sprintf("$%d", n+3), fmt.Sprintf("$%d", n+4)
	isDone := "id = " + id
	ids, err := queryAll(tx, scanOne[int64], `UPDATE jobs SET state = CASE WHEN `+isDone+` THEN 'done' ELSE 'cancelled' END,
		result = CASE WHEN `+isDone+` THEN `+result+` ELSE result END,
		output = CASE WHEN `+isDone+` THEN `+output+` ELSE output END,
		lease_until = CASE WHEN `+isDone+` THEN NULL ELSE lease_until END,
		last_error = CASE WHEN `+isDone+` THEN '' ELSE last_error END, updated_at = $1
		WHERE (`+isDone+` AND state = 'running' AND attempts = `+attempt+`) OR (`+strings.Join(w.conds, " AND ")+`)
		RETURNING id`, args...)
	if err != nil {
		return err
	}
	if !slices.Contains(ids, done.JobID) {
		return lostLease(done.JobID, done.Attempt)
	}
	return nil
}

// CompleteJob marks a running job done, fenced by its attempt.
func (db *DB) CompleteJob(ctx context.Context, d *wod.JobCompletion) error {
	err := db.transact(ctx, func(tx *Tx) error { return completeJob(tx, d) })
	if err != nil {
		return fmt.Errorf("complete job %d: %w", d.JobID, err)
	}
	return nil
}

// FailJob records a failed attempt: the job is queued again at retryAt, or,
// with no retryAt, failed for good.
func (db *DB) FailJob(ctx context.Context, jobID int64, attempt int, msg, output string, retryAt *time.Time) error {
	err := db.transact(ctx, func(tx *Tx) error {
		state, runAt := wod.JobFailed, tx.now
		if retryAt != nil {
			state, runAt = wod.JobQueued, retryAt.UTC()
		}
		res, err := tx.exec(`UPDATE jobs SET state = $1, run_at = $2, last_error = $3, output = $4, lease_until = NULL,
			updated_at = $5 WHERE id = $6 AND state = 'running' AND attempts = $7`,
			state, runAt, msg, output, tx.now, jobID, attempt)
		if err != nil {
			return err
		}
		return leaseKept(res, jobID, attempt)
	})
	if err != nil {
		return fmt.Errorf("fail job %d: %w", jobID, err)
	}
	return nil
}

// ClaimJobs leases up to limit due jobs of the kinds, at one location when
// locationID is set: queued ones whose time has come, and running ones whose
// worker let the lease run out. An agent job waits while another agent job
// of the same registration runs, so that operations on one seat never
// overlap.
//
// more says whether other jobs were due beside those claimed, so that the
// caller wakes another worker only when there is work for it.
func (db *DB) ClaimJobs(ctx context.Context, kinds []wod.JobKind, locationID *int64, worker string,
	lease time.Duration, limit int) (js []*wod.Job, more bool, err error) {
	// One UPDATE, atomic by itself: every waiting agent runs it, often.
	err = db.writeStatement(ctx, func(tx *Tx) error {
		c := newClaim(tx, kinds, locationID, worker, lease, limit)
		var found int
		js, err = queryAll(tx, func(row scanner) (*wod.Job, error) {
			return scanJob(thenScan{row, func(row scanner) error { return row.Scan(&found) }})
		}, `WITH `+c.due+` `+c.update, c.args...)
		more = c.more(found, len(js))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(js, func(a, b *wod.Job) int { return a.RunAt.Compare(b.RunAt) })
	return js, more, nil
}

// ClaimAgentJob leases one due job of the kinds at the location, as
// ClaimJobs does, and returns with it its registration and the
// registration's workshop settings (as FindRegistrationWorkshop reads
// them; nil for a job without a registration). On PostgreSQL that is one
// statement: an agent's every claim reads them.
func (db *DB) ClaimAgentJob(ctx context.Context, kinds []wod.JobKind, locationID int64, worker string,
	lease time.Duration) (j *wod.Job, r *wod.Registration, w *wod.Workshop, more bool, err error) {
	if db.dialect != Postgres {
		// No data-modifying CTE: the claim, then the read.
		js, more, err := db.ClaimJobs(ctx, kinds, &locationID, worker, lease, 1)
		if err != nil || len(js) == 0 {
			return nil, nil, nil, more, err
		}
		if js[0].RegistrationID != nil {
			if r, w, err = db.FindRegistrationWorkshop(ctx, *js[0].RegistrationID); err != nil {
				return nil, nil, nil, false, err
			}
		}
		return js[0], r, w, more, nil
	}
	err = db.writeStatement(ctx, func(tx *Tx) error {
		c := newClaim(tx, kinds, &locationID, worker, lease, 1)
		var found int
		err := queryEach(tx, func(row scanner) (err error) {
			j, found, r, w, err = scanClaimed(row)
			return err
		}, `WITH `+c.due+`, claimed AS (`+c.update+`) SELECT claimed.*, r.id IS NOT NULL, `+registrationColumns+`, `+
			registrationWorkshopColumns+` FROM claimed LEFT JOIN (`+registrationWorkshopFrom+`) ON r.id = claimed.registration_id`,
			c.args...)
		if j != nil {
			more = c.more(found, 1)
		}
		return err
	})
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("claim jobs: %w", err)
	}
	return j, r, w, more, nil
}

// scanClaimed reads a row of ClaimAgentJob's: the job's columns, found,
// whether the job has a registration, then the registration's and the
// workshop's columns, all NULL without one. The flag is read first, every
// other column into nothing; then the row again, each column into its own
// or, when NULL, into nothing.
func scanClaimed(row scanner) (j *wod.Job, found int, r *wod.Registration, w *wod.Workshop, err error) {
	rows, ok := row.(*sql.Rows)
	if !ok {
		return nil, 0, nil, nil, fmt.Errorf("claim: a row of %T", row)
	}
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, nil, nil, err
	}
	jobCols := strings.Count(jobColumns, ",") + 1
	var with bool
	flag := discard(len(cols))
	flag[jobCols+1] = &with
	if err := rows.Scan(flag...); err != nil {
		return nil, 0, nil, nil, err
	}
	j, err = scanJob(thenScan{rows, func(row scanner) (err error) {
		if !with {
			return row.Scan(append([]any{&found, &with}, discard(len(cols)-jobCols-2)...)...)
		}
		r, w, err = scanRegistrationWorkshop(prefixScan{row, []any{&found, &with}})
		return err
	}})
	return j, found, r, w, err
}

// claim is the statement that leases due jobs (ClaimJobs): due, the
// definition of a CTE of that name listing them, and update, the UPDATE
// that leases them from it and returns each job's columns and found.
type claim struct {
	due, update string
	args        []any
	postgres    bool
	limit       int
}

// newClaim builds the claim ClaimJobs describes, of up to limit jobs.
//
// Queued jobs and lapsed leases are looked for apart, each in its own
// ordered index scan (an OR of both became a bitmap scan): a plain index
// scan marks the entries of dead row versions as it meets them, and the
// jobs table makes a few per participant faster than a vacuum comes, so
// that every claim would otherwise walk all of them again.
func newClaim(tx *Tx, kinds []wod.JobKind, locationID *int64, worker string, lease time.Duration, limit int) claim {
	w := where{args: []any{tx.now}} // $1: the claim's time, in both branches
	w.add(inList("j.kind", len(kinds)), kindArgs(kinds)...)
	if locationID != nil {
		w.add("j.location_id = ?", *locationID)
	}
	w.add(`NOT EXISTS (SELECT 1 FROM jobs o WHERE o.registration_id = j.registration_id AND o.id <> j.id
		AND o.state = 'running' AND o.lease_until >= $1 AND o.kind IN ('create', 'cleanup', 'reset', 'purge')
		AND j.kind IN ('create', 'cleanup', 'reset', 'purge'))`)
	postgres := tx.db.dialect == Postgres
	lock := ""
	if postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	n := len(w.args)
	args := append(w.args, limit, worker, tx.now.Add(lease))
	due := func(cond string) string {
		return fmt.Sprintf(`SELECT id, run_at FROM (SELECT j.id, j.run_at FROM jobs j%s AND %s
			ORDER BY j.run_at, j.id LIMIT $%d%s) AS due`, w.String(), cond, n+1, lock)
	}
	queued, lapsed := "j.state = 'queued' AND j.run_at <= $1", "j.state = 'running' AND j.lease_until < $1"
	// On PostgreSQL, what was due, counted up to one job past the limit
	// without locking (a job locked by a concurrent claim would be
	// skipped) in the statement's snapshot, says whether more are left
	// beside those claimed. SQLite evaluates RETURNING after the update:
	// there a full claim says there may be more.
	ahead := "0"
	if postgres {
		count := func(cond string) string {
			return fmt.Sprintf(`(SELECT COUNT(*) FROM (SELECT 1 FROM jobs j%s AND %s LIMIT $%d + 1) AS ahead)`,
				w.String(), cond, n+1)
		}
		ahead = count(queued) + " + " + count(lapsed)
	}
	return claim{
		due: fmt.Sprintf(`due AS (%s UNION ALL %s)`, due(queued), due(lapsed)),
		update: fmt.Sprintf(`UPDATE jobs SET state = 'running', attempts = attempts + 1, leased_by = $%d,
			lease_until = $%d, updated_at = $1 WHERE id IN (SELECT id FROM due ORDER BY run_at, id LIMIT $%d)
			RETURNING `+jobColumns+`, %s AS found`, n+2, n+3, n+1, ahead),
		args: args, postgres: postgres, limit: limit,
	}
}

// more says whether jobs were left due beside the claimed ones, from the
// claim's found.
func (c claim) more(found, claimed int) bool {
	if c.postgres {
		return found > claimed
	}
	return claimed > 0 && claimed == c.limit
}

// NextJobAt returns when the next job of the kinds falls due (a queued one's
// time, or a running one's lease end), and false when there is none.
func (db *DB) NextJobAt(ctx context.Context, kinds []wod.JobKind, locationID *int64) (next time.Time, ok bool, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		// One look per kind, each the first entry of an index by kind and
		// time (jobs_queued_kind, jobs_running_kind): a look at all the
		// kinds at once walked the queue in time order past every job of
		// the other kinds (a crowd's expiries, hours ahead, ~1.5 ms).
		var qs []dueQuery
		for _, q := range []struct{ state, col string }{{"queued", "run_at"}, {"running", "lease_until"}} {
			for _, kind := range kinds {
				var w where
				w.add("state = '" + q.state + "'") // a constant, for the partial indexes
				w.add("kind = ?", kind)
				if locationID != nil {
					w.add("location_id = ?", *locationID)
				}
				qs = append(qs, dueQuery{`SELECT ` + q.col + ` FROM jobs` + w.String() + ` ORDER BY ` + q.col + ` LIMIT 1`, w.args})
			}
		}
		next, ok, err = earliest(tx, qs...)
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next job: %w", err)
	}
	return next, ok, nil
}

// FindJob returns one job.
func (db *DB) FindJob(ctx context.Context, id int64) (j *wod.Job, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		j, err = scanJob(tx.queryRow(`SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "job %d not found", id)
		}
		return err
	})
	return j, err
}

// FinishedWorkshops counts the distinct workshops the address has finished.
func (db *DB) FinishedWorkshops(ctx context.Context, email string) (n int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT COUNT(DISTINCT workshop_id) FROM registrations WHERE email = $1 AND state = 'done' AND rehearsal_id IS NULL`,
			email).Scan(&n)
	})
	return n, err
}

// BadgeLevel returns the highest badge level the address has earned, or 0.
func (db *DB) BadgeLevel(ctx context.Context, email string) (level int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT COALESCE(MAX(level), 0) FROM badges_earned WHERE email = $1`, email).Scan(&level)
	})
	return level, err
}

// BadgeStanding reads, in one statement, what a participant's finished
// session changes for their badges: the distinct workshops the address
// has finished, the highest badge it has earned (0: none), and whether it
// had finished this registration's workshop before.
func (db *DB) BadgeStanding(ctx context.Context, r *wod.Registration) (finished, level int, before bool, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT (SELECT COUNT(DISTINCT workshop_id) FROM registrations WHERE email = $1
			AND state = 'done' AND rehearsal_id IS NULL), (SELECT COALESCE(MAX(level), 0) FROM badges_earned WHERE email = $1),
			EXISTS (SELECT 1 FROM registrations WHERE email = $1 AND state = 'done' AND workshop_id = $2 AND id <> $3)`,
			r.Email, r.WorkshopID, r.ID).Scan(&finished, &level, &before)
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("badge standing of %s: %w", r.Email, err)
	}
	return finished, level, before, nil
}

// inList returns "col IN (?, …)" with n placeholders, for where.add.
func inList(col string, n int) string {
	ph := make([]string, n)
	for i := range ph {
		ph[i] = "?"
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

func kindArgs(kinds []wod.JobKind) []any {
	out := make([]any, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

// SnoozeJob puts a running job back in the queue for later without counting
// the attempt: its time moved (a registration was extended).
func (db *DB) SnoozeJob(ctx context.Context, jobID int64, attempt int, runAt time.Time) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE jobs SET state = 'queued', run_at = $1, attempts = attempts - 1, lease_until = NULL,
			updated_at = $2 WHERE id = $3 AND state = 'running' AND attempts = $4`, runAt.UTC(), tx.now, jobID, attempt)
		if err != nil {
			return err
		}
		return leaseKept(res, jobID, attempt)
	})
	if err != nil {
		return fmt.Errorf("snooze job %d: %w", jobID, err)
	}
	return nil
}

// claimSelfExtension records the participant's one extension, refusing it
// when they used it already or when someone waits for a seat of the
// workshop. The registration's row is locked by the caller; the workshop's
// row is locked here, as a registration that joins the line holds it: a
// waiter who joins concurrently either committed first (and is seen here)
// or joins after this extension, as had the participant extended a moment
// earlier.
func claimSelfExtension(tx *Tx, id int64) error {
	var workshopID int64
	if err := tx.queryRow(`SELECT id FROM workshops WHERE id = (SELECT workshop_id FROM registrations WHERE id = $1)`+
		tx.forUpdate(), id).Scan(&workshopID); err != nil {
		return err
	}
	var waiting int
	if err := tx.queryRow(`SELECT COUNT(*) FROM registrations q JOIN registrations r ON r.workshop_id = q.workshop_id
		WHERE r.id = $1 AND q.state = 'waiting'`, id).Scan(&waiting); err != nil {
		return err
	}
	if waiting > 0 {
		return wod.Errorf(wod.ECONFLICT, "registration %d cannot be extended: %d participants wait for a seat of its workshop", id, waiting)
	}
	res, err := tx.exec(`UPDATE registrations SET self_extended = TRUE WHERE id = $1 AND NOT self_extended`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return wod.Errorf(wod.ECONFLICT, "registration %d was extended by its participant already: once is all", id)
	}
	return nil
}

// HoldJob keeps a running job leased until the given time and records its
// result so far, fenced by its attempt: a legacy location's job waits,
// with its command mail sent, for the backend's callbacks.
func (db *DB) HoldJob(ctx context.Context, jobID int64, attempt int, until time.Time, result []byte) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE jobs SET lease_until = $1, result = $2, updated_at = $3
			WHERE id = $4 AND state = 'running' AND attempts = $5`, until.UTC(), string(result), tx.now, jobID, attempt)
		if err != nil {
			return err
		}
		return leaseKept(res, jobID, attempt)
	})
	if err != nil {
		return fmt.Errorf("hold job %d: %w", jobID, err)
	}
	return nil
}
