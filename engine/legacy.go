package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// Legacy locations: an original wod-backend serves the seats. The server
// plays the original api-db's part: it sends the backend a command mail
// for each agent job of the location (the mail is the job's claim), keeps
// the job leased while the backend works, and takes the backend's REST
// callbacks (the legacy routes) as the job's report. A job is one engine
// transition as with a wod agent: the watchdog, the purge and the retries
// are the same.

// CommandMailer sends an original backend a command mail.
type CommandMailer interface {
	SendCommand(ctx context.Context, l *wod.Location, subject, body string) error
}

const (
	// DefaultLegacyWait is how long a sent command waits for the
	// backend's callbacks before it is sent again (a lost mail, a backend
	// that was down): longer than the original's slowest action, a RESET
	// or PURGE that polls for up to 15 minutes first.
	DefaultLegacyWait = 30 * time.Minute
	// legacySendLease bounds one send: a server that dies mid-send leaves
	// the job to the next pass after it.
	legacySendLease = 2 * time.Minute
)

var legacyKinds = []wod.JobKind{wod.JobCreate, wod.JobCleanup, wod.JobReset, wod.JobPurge, wod.JobWarm}

// legacyHold is a legacy job's result while it waits: the command sent,
// and what the backend reported so far (its callbacks come one field at a
// time: the password before "active", the completion before "cleaned").
type legacyHold struct {
	Sent       string    `json:"sent"`
	SentAt     time.Time `json:"sent_at"`
	Password   []byte    `json:"password_enc,omitempty"` // sealed with the server's keys
	Completion *int      `json:"completion,omitempty"`
}

func (e *Engine) legacyWait() time.Duration {
	if e.LegacyWait > 0 {
		return e.LegacyWait
	}
	return DefaultLegacyWait
}

// RunLegacy sends the command mails of the legacy locations until ctx
// ends: at once when work is scheduled, and at least every second (another
// replica may schedule it, or a lease run out). Which locations are legacy
// it reads once a second, not at every step of every participant: a site
// without one then costs nothing more.
func (e *Engine) RunLegacy(ctx context.Context) {
	if e.Commands == nil {
		return
	}
	var ls []*wod.Location
	var read time.Time
	for {
		alarm := setAlarm(nil, e.Notified)
		if time.Since(read) >= maxSleep {
			all, err := e.Store.FindLocations(ctx)
			if err != nil && ctx.Err() == nil {
				e.Logger.WarnContext(ctx, "legacy locations", "error", err)
			}
			if err == nil {
				ls, read = all, time.Now()
			}
		}
		if _, err := e.driveLegacy(ctx, ls); err != nil && ctx.Err() == nil {
			e.Logger.WarnContext(ctx, "legacy locations", "error", err)
		}
		if alarm.Wait(ctx, time.Now().Add(time.Second)) != nil {
			return
		}
	}
}

// DriveLegacy makes one pass over the legacy locations: it closes the
// held jobs that became moot and sends the command mails that are due. It
// returns how many mails it sent.
func (e *Engine) DriveLegacy(ctx context.Context) (int, error) {
	if e.Commands == nil {
		return 0, nil
	}
	ls, err := e.Store.FindLocations(ctx)
	if err != nil {
		return 0, err
	}
	return e.driveLegacy(ctx, ls)
}

// driveLegacy makes DriveLegacy's pass over the legacy locations among ls.
func (e *Engine) driveLegacy(ctx context.Context, ls []*wod.Location) (int, error) {
	sent := 0
	for _, l := range ls {
		if !l.Legacy() {
			continue
		}
		if err := e.closeMootHolds(ctx, l); err != nil {
			return sent, err
		}
		for {
			j, r, w, more, err := e.Store.ClaimAgentJob(ctx, legacyKinds, l.ID, e.Worker+"/legacy", legacySendLease)
			if err != nil {
				return sent, err
			}
			if j == nil {
				break
			}
			ok, err := e.sendCommand(ctx, l, j, r, w)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
			if !more {
				break
			}
		}
	}
	return sent, nil
}

// closeMootHolds completes the location's waiting jobs whose registration
// moved on (it ended early, the watchdog failed it): the backend's report
// would change nothing, and the held job would keep the registration's
// next job (its cleanup or purge) from being sent.
func (e *Engine) closeMootHolds(ctx context.Context, l *wod.Location) error {
	running := wod.JobRunning
	js, _, err := e.Store.FindJobs(ctx, wod.JobFilter{State: &running, Page: wod.Page{Limit: 1000}})
	if err != nil {
		return err
	}
	for _, j := range js {
		if j.LocationID == nil || *j.LocationID != l.ID || j.RegistrationID == nil ||
			(j.Kind != wod.JobCreate && j.Kind != wod.JobCleanup) {
			continue
		}
		r, err := e.Store.FindRegistration(ctx, *j.RegistrationID)
		if err != nil {
			return err
		}
		if why := moot(j.Kind, r); why != "" {
			err := e.Store.CompleteJob(ctx, &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts,
				Result: []byte(fmt.Sprintf(`{"skipped":%q}`, why))})
			if err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
				return err
			}
			e.notifyAt(l.ID)
		}
	}
	return nil
}

// sendCommand sends the claimed job's command mail and holds the job for
// the backend's callbacks. A failed send is retried with the timers'
// backoff, and operators hear of it after the last attempt.
func (e *Engine) sendCommand(ctx context.Context, l *wod.Location, j *wod.Job, r *wod.Registration, w *wod.Workshop) (bool, error) {
	if j.Attempts > j.MaxAttempts {
		e.giveUp(ctx, j, fmt.Sprintf("the backend reported nothing after %d command mails", j.MaxAttempts))
		return false, nil
	}
	if j.Kind == wod.JobWarm {
		e.giveUp(ctx, j, "an original backend keeps no warm seats: the location is legacy")
		return false, nil
	}
	aj, err := e.agentJob(ctx, j, r, w)
	if err != nil || aj == nil {
		return false, err // nil: moot, completed
	}
	subject, body, err := e.legacyCommand(ctx, j, aj)
	if err != nil {
		e.retry(ctx, j, err.Error(), "")
		return false, nil
	}
	sendCtx, cancel := context.WithTimeout(ctx, legacySendLease/2)
	err = e.Commands.SendCommand(sendCtx, l, subject, body)
	cancel()
	if err != nil {
		e.Logger.WarnContext(ctx, "command mail not sent", "job", j.ID, "location", l.Name, "command", subject, "error", err)
		e.retry(ctx, j, "command mail to "+l.BackendEmail+": "+err.Error(), "")
		return false, nil
	}
	// Sent: from here a crash only resends it after the wait, which the
	// backend's actions take (each starts from scratch).
	hold, _ := json.Marshal(legacyHold{Sent: subject, SentAt: e.now()})
	if err := e.Store.HoldJob(ctx, j.ID, j.Attempts, e.now().Add(e.legacyWait()), hold); err != nil {
		// The send outlived its lease: the next attempt sends it again,
		// which the backend's actions take (each starts from scratch).
		e.Logger.WarnContext(ctx, "command mail sent but not recorded", "job", j.ID, "command", subject, "error", err)
		return true, nil
	}
	e.Logger.InfoContext(ctx, "command mail sent", "job", j.ID, "location", l.Name, "command", subject)
	return true, nil
}

// legacyCommand is the job's command mail, as the original api-db writes
// it (reference §2.8): the subject carries the verb, the local student
// number and the customer (the registration; 0 for a seat's purge), the
// body the notebook.
func (e *Engine) legacyCommand(ctx context.Context, j *wod.Job, aj *wod.AgentJob) (subject, body string, err error) {
	switch j.Kind {
	case wod.JobCreate:
		r, err := e.Store.FindRegistration(ctx, aj.RegistrationID)
		if err != nil {
			return "", "", err
		}
		subject = fmt.Sprintf("CREATE %d %d %s", aj.StudentNumber, aj.RegistrationID, r.Email)
	case wod.JobCleanup:
		subject = fmt.Sprintf("CLEANUP %d %d", aj.StudentNumber, aj.RegistrationID)
	case wod.JobReset:
		subject = fmt.Sprintf("RESET %d %d", aj.StudentNumber, aj.RegistrationID)
	default:
		subject = fmt.Sprintf("PURGE %d %d", aj.StudentNumber, aj.RegistrationID)
	}
	if aj.StudentNumber < 1 {
		return "", "", fmt.Errorf("job %d names no seat", j.ID)
	}
	if strings.ContainsAny(subject+aj.Workshop, "\r\n") {
		return "", "", fmt.Errorf("job %d: a line break in the command %q", j.ID, subject)
	}
	return subject, aj.Workshop, nil
}

// legacyJob finds the registration's job of the kind that waits for the
// backend's report.
func (e *Engine) legacyJob(ctx context.Context, r *wod.Registration, kinds ...wod.JobKind) (*wod.Job, *legacyHold, error) {
	running := wod.JobRunning
	js, _, err := e.Store.FindJobs(ctx, wod.JobFilter{State: &running, RegistrationID: &r.ID, Page: wod.Page{Limit: 100}})
	if err != nil {
		return nil, nil, err
	}
	for _, j := range js {
		for _, k := range kinds {
			if j.Kind != k {
				continue
			}
			var h legacyHold
			if json.Unmarshal(j.Result, &h) != nil || h.Sent == "" {
				// Claimed, its mail not sent yet (or not confirmed):
				// a report now would be for an earlier mail, which is
				// the same action.
				h = legacyHold{}
			}
			return j, &h, nil
		}
	}
	return nil, nil, wod.Errorf(wod.ECONFLICT, "customer %d is %s: no %s of it waits for a report", r.ID, r.State, kinds[0])
}

// hold records what the backend reported so far, keeping the job's wait.
func (e *Engine) hold(ctx context.Context, j *wod.Job, h *legacyHold) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	until := e.now().Add(e.legacyWait())
	if j.LeaseUntil != nil && j.LeaseUntil.After(until) {
		until = *j.LeaseUntil
	}
	return e.Store.HoldJob(ctx, j.ID, j.Attempts, until, b)
}

// LegacyPassword takes the password an original backend reports for the
// registration's seat (PUT /api/student/:id {"password"}): at CREATE it is
// kept until the backend says the seat is ready; at CLEANUP (a rotated
// password, the participant's time is over) it changes nothing.
func (e *Engine) LegacyPassword(ctx context.Context, r *wod.Registration, password string) error {
	if r.State != wod.StatePending {
		return nil
	}
	if password == "" {
		return wod.Errorf(wod.EINVALID, "the password is empty")
	}
	j, h, err := e.legacyJob(ctx, r, wod.JobCreate)
	if err != nil {
		return err
	}
	if h.Password, err = e.Keys.Encrypt(password); err != nil {
		return err
	}
	return e.hold(ctx, j, h)
}

// LegacyActive takes an original backend's "active" for a registration
// (PUT /api/customer/:id): true after CREATE makes it ready, with the
// password reported before, and sends the credentials; false (CLEANUP of a
// reset workshop, which keeps the files for RESET) changes nothing.
func (e *Engine) LegacyActive(ctx context.Context, r *wod.Registration, active bool) error {
	if !active || r.State != wod.StatePending {
		if active && !r.State.Running() {
			return wod.Errorf(wod.ECONFLICT, "customer %d is %s: it can no longer become active", r.ID, r.State)
		}
		return nil
	}
	j, h, err := e.legacyJob(ctx, r, wod.JobCreate)
	if err != nil {
		return err
	}
	if len(h.Password) == 0 {
		return wod.Errorf(wod.ECONFLICT, "customer %d: the backend has not reported student %s's password "+
			"(PUT /api/student/:id) before active", r.ID, r.Username)
	}
	pw, err := e.Keys.Decrypt(h.Password)
	if err != nil {
		return err
	}
	return e.ReportJob(ctx, *j.LocationID, j.ID, "legacy", wod.AgentResult{Attempt: j.Attempts, OK: true, Password: pw,
		Seconds: e.now().Sub(h.SentAt).Seconds()})
}

// LegacyCompletion takes the completion an original backend measures at
// CLEANUP, kept until it reports "cleaned".
func (e *Engine) LegacyCompletion(ctx context.Context, r *wod.Registration, percent int) error {
	if percent < 0 || percent > 100 {
		return wod.Errorf(wod.EINVALID, "completionPercentage must be between 0 and 100")
	}
	if r.State != wod.StateEnding {
		if r.Completion != nil && *r.Completion == percent {
			return nil
		}
		return wod.Errorf(wod.ECONFLICT, "customer %d is %s, not ending: no cleanup waits for its completion", r.ID, r.State)
	}
	j, h, err := e.legacyJob(ctx, r, wod.JobCleanup)
	if err != nil {
		return err
	}
	h.Completion = &percent
	return e.hold(ctx, j, h)
}

// LegacyCleaned takes an original backend's "cleaned": the cleanup is
// done, the registration with it (the seat freed, or kept for a reset).
func (e *Engine) LegacyCleaned(ctx context.Context, r *wod.Registration) error {
	if r.State != wod.StateEnding {
		if r.State.Live() {
			return wod.Errorf(wod.ECONFLICT, "customer %d is %s: it has not ended", r.ID, r.State)
		}
		return nil
	}
	j, h, err := e.legacyJob(ctx, r, wod.JobCleanup)
	if err != nil {
		return err
	}
	return e.ReportJob(ctx, *j.LocationID, j.ID, "legacy", wod.AgentResult{Attempt: j.Attempts, OK: true,
		Completion: h.Completion, Seconds: e.now().Sub(h.SentAt).Seconds()})
}

// LegacySeatFreed takes an original backend's {"assigned":"false"} for a
// seat: after RESET or PURGE, the seat is free again. During a CLEANUP it
// changes nothing (its "cleaned" frees the seat).
func (e *Engine) LegacySeatFreed(ctx context.Context, l *wod.Location, seat *wod.Seat) error {
	running := wod.JobRunning
	var js []*wod.Job
	if seat.RegistrationID != nil {
		var err error
		if js, _, err = e.Store.FindJobs(ctx, wod.JobFilter{State: &running, RegistrationID: seat.RegistrationID,
			Page: wod.Page{Limit: 100}}); err != nil {
			return err
		}
	}
	purge := wod.JobPurge
	more, _, err := e.Store.FindJobs(ctx, wod.JobFilter{State: &running, Kind: &purge, Page: wod.Page{Limit: 1000}})
	if err != nil {
		return err
	}
	for _, j := range more {
		if p, ok := seatPurge(j); ok && j.LocationID != nil && *j.LocationID == l.ID && p.Number == seat.Number {
			js = append(js, j)
		}
	}
	for _, j := range js {
		if j.Kind != wod.JobReset && j.Kind != wod.JobPurge {
			continue
		}
		return e.ReportJob(ctx, l.ID, j.ID, "legacy", wod.AgentResult{Attempt: j.Attempts, OK: true})
	}
	if seat.State == wod.SeatFree {
		return nil
	}
	if seat.RegistrationID != nil {
		r, err := e.Store.FindRegistration(ctx, *seat.RegistrationID)
		if err != nil {
			return err
		}
		if r.State == wod.StateEnding {
			return nil
		}
	}
	return wod.Errorf(wod.ECONFLICT, "student %s of location %s is %s: no reset or purge of it waits for a report",
		seat.Username, l.Name, seat.State)
}
