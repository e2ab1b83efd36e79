package legacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// Bridge is the agent's server when the original api-db drives it: jobs
// come from the spool of command mails and outcomes go to the api-db, as
// the original's procmail-action.sh reports them. It implements
// agent.Server and agent.GuardServer.
type Bridge struct {
	Spool *Spool
	API   *APIDB
	// BaseStudentID is this backend's basestdid in the api-db: student N
	// is the api-db's student BaseStudentID + N.
	BaseStudentID int
	// Students is how many student accounts this backend has (the
	// original's WODUSERMAX); a command for another student is refused.
	Students int
	// Location is this backend's name in the api-db (the workshops'
	// location), to pick among workshops of the same notebook.
	Location string
	// Lease bounds one operation (default 30 min).
	Lease time.Duration
	// MaxAttempts of a failing operation before it is given up (default 5).
	MaxAttempts int
	// Retry is the first pause after a failure, doubling up to 10 min
	// (default 30 s).
	Retry  time.Duration
	Logger *slog.Logger

	mu   sync.Mutex
	busy map[int64]bool // entries being run or reported
	wake chan struct{}
}

// Notify wakes waiting claims: a command arrived.
func (b *Bridge) Notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

func (b *Bridge) woken() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}

// take marks an entry as being handled; false if it already is.
func (b *Bridge) take(id int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.busy == nil {
		b.busy = map[int64]bool{}
	}
	if b.busy[id] {
		return false
	}
	b.busy[id] = true
	return true
}

func (b *Bridge) release(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.busy, id)
}

// Claim returns the next command to run, waiting up to wait for one. A
// student's commands run one at a time, in the order they arrived.
func (b *Bridge) Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error) {
	deadline := time.Now().Add(wait)
	for {
		wake := b.woken()
		if job := b.next(ctx); job != nil {
			return job, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(left, time.Second)) // entries come due as their backoff ends
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (b *Bridge) next(ctx context.Context) *wod.AgentJob {
	entries, errs := b.Spool.Entries()
	for _, err := range errs {
		b.logger().ErrorContext(ctx, "legacy command mail", "error", err)
	}
	now := time.Now()
	queued := map[int]bool{} // students with an earlier command still in the spool
	for _, listed := range entries {
		student := listed.Command.Student
		earlier := queued[student]
		queued[student] = true
		if earlier || now.Before(listed.NotBefore) || !b.take(listed.ID) {
			continue
		}
		// Read again now that it is ours: another worker may have
		// finished it since the listing.
		e, err := b.Spool.Load(listed.ID)
		if err != nil || now.Before(e.NotBefore) {
			b.release(listed.ID)
			continue
		}
		if e.Result != nil {
			// It ran; the api-db did not get the outcome yet.
			b.deliver(ctx, e)
			b.release(e.ID)
			continue
		}
		job, err := b.job(ctx, e)
		if err != nil {
			b.failed(ctx, e, err.Error(), errors.Is(err, errPermanent))
			b.release(e.ID)
			continue
		}
		e.Attempts++
		e.Reset = job.Reset
		if err := b.Spool.Save(e); err != nil {
			b.logger().ErrorContext(ctx, "legacy command mail", "error", err)
			b.release(e.ID)
			return nil
		}
		job.Attempt = e.Attempts
		return job
	}
	return nil
}

var errPermanent = errors.New("cannot be run")

// job builds the agent's job of a command from the api-db's workshop.
func (b *Bridge) job(ctx context.Context, e *Entry) (*wod.AgentJob, error) {
	c := e.Command
	if b.Students > 0 && c.Student > b.Students {
		return nil, fmt.Errorf("student %d is outside this backend's %d students: %w", c.Student, b.Students, errPermanent)
	}
	lease := b.Lease
	if lease <= 0 {
		lease = 30 * time.Minute
	}
	job := &wod.AgentJob{ID: e.ID, Kind: c.Verb.Kind(), LeaseUntil: time.Now().Add(lease),
		LeaseSeconds: int(lease / time.Second), RegistrationID: c.Customer,
		Workshop: c.Workshop(), SessionType: c.SessionType(), StudentNumber: c.Student,
		StudentID: b.BaseStudentID + c.Student, Username: wod.StudentUsername(c.Student)}
	// procmail-action.sh reports the password a CLEANUP rotates: the
	// api-db's row then no longer holds the participant's.
	job.ReportPassword = c.Verb == Cleanup
	if c.Notebook == "" {
		return job, nil // a PURGE needs no workshop
	}
	w, err := b.workshop(ctx, c.Workshop())
	if errors.Is(err, errNoWorkshop) && c.Verb == Purge {
		return job, nil
	}
	if err != nil {
		return nil, err
	}
	job.Reset, job.LDAP = w.Reset, w.LDAP
	if len(w.Range) == 2 {
		job.SeatMin = w.Range[0]
	}
	switch {
	case w.MultiAppliance:
		job.Appliance = wod.ApplianceMulti
	case w.MonoAppliance:
		job.Appliance = wod.ApplianceMono
	}
	for s := range strings.SplitSeq(w.Compile, ",") {
		// The api-db keeps "no scripts" as null or "false".
		if s = strings.TrimSpace(s); s != "" && s != "null" && s != "false" {
			job.Compile = append(job.Compile, s)
		}
	}
	return job, nil
}

func (b *Bridge) workshop(ctx context.Context, notebook string) (*Workshop, error) {
	ws, err := b.API.Workshops(ctx)
	if err != nil {
		return nil, err
	}
	var found *Workshop
	for i := range ws {
		if ws[i].Notebook != notebook {
			continue
		}
		if found == nil || (b.Location != "" && ws[i].Location == b.Location) {
			found = &ws[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("notebook %s: %w: %w", notebook, errNoWorkshop, errPermanent)
	}
	return found, nil
}

// Report takes the outcome of a job: a failure is retried with backoff
// up to MaxAttempts; a success goes to the api-db.
func (b *Bridge) Report(ctx context.Context, jobID int64, res wod.AgentResult) error {
	defer b.release(jobID)
	e, err := b.Spool.Load(jobID)
	if errors.Is(err, os.ErrNotExist) {
		return wod.Errorf(wod.ENOTFOUND, "legacy command %d is no longer in the spool", jobID)
	}
	if err != nil {
		return err
	}
	if res.Attempt != e.Attempts || e.Result != nil {
		return wod.Errorf(wod.ECONFLICT, "legacy command %d: attempt %d is not the current one", jobID, res.Attempt)
	}
	if !res.OK {
		b.failed(ctx, e, res.Error, false)
		return nil
	}
	res.Notebooks = nil // the api-db has no place for them
	e.Result = &res
	e.LastError = ""
	if err := b.Spool.Save(e); err != nil {
		return err
	}
	b.deliver(ctx, e)
	return nil
}

// failed retries the entry later, or gives it up for good.
func (b *Bridge) failed(ctx context.Context, e *Entry, reason string, permanent bool) {
	log := b.logger().With("command", e.Command.Verb, "student", e.Command.Student, "customer", e.Command.Customer,
		"notebook", e.Command.Notebook)
	e.LastError = reason
	maxAttempts := b.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	if permanent || e.Attempts >= maxAttempts {
		if err := b.Spool.Fail(e); err != nil {
			log.ErrorContext(ctx, "legacy command mail", "error", err)
			return
		}
		log.ErrorContext(ctx, "legacy command given up; it is kept in the spool's failed directory",
			"attempts", e.Attempts, "error", reason)
		return
	}
	e.NotBefore = time.Now().Add(b.backoff(e.Attempts))
	if err := b.Spool.Save(e); err != nil {
		log.ErrorContext(ctx, "legacy command mail", "error", err)
	}
	log.WarnContext(ctx, "legacy command failed; it will run again", "attempts", e.Attempts,
		"retry_at", e.NotBefore, "error", reason)
}

func (b *Bridge) backoff(n int) time.Duration {
	d := b.Retry
	if d <= 0 {
		d = 30 * time.Second
	}
	for ; n > 1 && d < 10*time.Minute; n-- {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// deliver tells the api-db what the operation did, as the original's
// procmail-action.sh does, then forgets the entry. Every call is a PUT of
// absolute values, so a repeat after a crash is harmless.
func (b *Bridge) deliver(ctx context.Context, e *Entry) {
	c, res := e.Command, e.Result
	student := int64(b.BaseStudentID + c.Student)
	type put struct {
		student bool
		fields  map[string]string
	}
	var puts []put
	switch c.Verb {
	case Create:
		puts = append(puts, put{true, map[string]string{"password": res.Password}},
			put{false, map[string]string{"active": "true"}})
	case Cleanup:
		if res.Password != "" {
			puts = append(puts, put{true, map[string]string{"password": res.Password}})
		}
		if res.Completion != nil {
			puts = append(puts, put{false, map[string]string{"completionPercentage": fmt.Sprint(*res.Completion)}})
		}
		if e.Reset {
			// The seat keeps its files for the RESET that follows.
			puts = append(puts, put{true, map[string]string{"assigned": "true"}}, put{false, map[string]string{"active": "false"}})
		} else {
			puts = append(puts, put{true, map[string]string{"assigned": "false"}})
		}
		puts = append(puts, put{false, map[string]string{"cleaned": "true"}})
	case Reset, Purge:
		puts = append(puts, put{true, map[string]string{"assigned": "false"}})
	}
	log := b.logger().With("command", c.Verb, "student", c.Student, "customer", c.Customer, "notebook", c.Notebook)
	for _, p := range puts {
		var err error
		switch {
		case p.student:
			err = b.API.PutStudent(ctx, student, p.fields)
		case c.Customer > 0:
			err = b.API.PutCustomer(ctx, c.Customer, p.fields)
		}
		if err != nil {
			e.NotBefore = time.Now().Add(b.backoff(1))
			e.LastError = err.Error()
			if err := b.Spool.Save(e); err != nil {
				log.ErrorContext(ctx, "legacy command mail", "error", err)
			}
			log.WarnContext(ctx, "the api-db did not take the outcome; it will be sent again", "retry_at", e.NotBefore, "error", err)
			return
		}
	}
	if err := b.Spool.Remove(e.ID); err != nil {
		log.ErrorContext(ctx, "legacy command mail", "error", err)
		return
	}
	log.InfoContext(ctx, "legacy command done", "attempts", e.Attempts)
}

// Heartbeat has nowhere to go: the api-db knows no agents.
func (b *Bridge) Heartbeat(context.Context, wod.AgentHeartbeat) error { return nil }

// HeldSeats are the students the api-db has assigned, and those with a
// command in the spool: the guard leaves their processes alone.
func (b *Bridge) HeldSeats(ctx context.Context) ([]int, error) {
	ss, err := b.API.Students(ctx)
	if err != nil {
		return nil, err
	}
	held := map[int]bool{}
	for _, s := range ss {
		n := int(s.ID) - b.BaseStudentID
		if s.Assigned && n >= 1 && (b.Students <= 0 || n <= b.Students) {
			held[n] = true
		}
	}
	entries, _ := b.Spool.Entries()
	for _, e := range entries {
		held[e.Command.Student] = true
	}
	out := make([]int, 0, len(held))
	for n := range held {
		out = append(out, n)
	}
	return out, nil
}

// Event logs what the guard did, or a command mail the intake refused:
// the api-db has no place for it.
func (b *Bridge) Event(ctx context.Context, kind, detail string) error {
	b.logger().WarnContext(ctx, "audit event", "kind", kind, "detail", detail)
	return nil
}

func (b *Bridge) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}
