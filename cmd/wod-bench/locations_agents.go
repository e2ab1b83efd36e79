package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
)

// simulatedHost is an agent's operator without a host: every operation
// succeeds at once, so that the bench measures the control plane alone.
type simulatedHost struct{}

func (simulatedHost) Run(_ context.Context, job *wod.AgentJob) (agent.Outcome, error) {
	switch job.Kind {
	case wod.JobCreate:
		return agent.Outcome{Password: "Bench-Pass-1"}, nil
	case wod.JobCleanup:
		c := 50
		return agent.Outcome{Completion: &c}, nil
	}
	return agent.Outcome{}, nil
}

// timedServer is the agent's HTTP client, timing what the crowd measures:
// each claim that brings a job, and the reports that make a participant
// ready (then handed to ready, for the participant to end) or done.
type timedServer struct {
	*agent.Client
	crowd      *crowd
	ready      chan<- int64
	heartbeats *atomic.Int64

	mu   sync.Mutex
	jobs map[int64]*wod.AgentJob
}

func (s *timedServer) Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error) {
	sent := time.Now()
	job, err := s.Client.Claim(ctx, wait)
	if err != nil || job == nil {
		return job, err
	}
	s.crowd.claimed(job.RegistrationID, job.Kind, sent, time.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs == nil {
		s.jobs = map[int64]*wod.AgentJob{}
	}
	s.jobs[job.ID] = job
	return job, nil
}

func (s *timedServer) Report(ctx context.Context, jobID int64, res wod.AgentResult) error {
	err := s.Client.Report(ctx, jobID, res)
	if err != nil {
		return err
	}
	s.mu.Lock()
	job := s.jobs[jobID]
	delete(s.jobs, jobID)
	s.mu.Unlock()
	if job == nil {
		return nil
	}
	switch job.Kind {
	case wod.JobCreate:
		if s.crowd.ready(job.RegistrationID, time.Now()) {
			s.ready <- job.RegistrationID
		}
	case wod.JobCleanup:
		s.crowd.finish(job.RegistrationID, true)
	}
	return nil
}

func (s *timedServer) Heartbeat(ctx context.Context, hb wod.AgentHeartbeat) error {
	s.heartbeats.Add(1)
	return s.Client.Heartbeat(ctx, hb)
}

// participant is what the bench knows of one registration. Its agent may
// see it before its booking's answer arrives.
type participant struct {
	booked      chan struct{} // closed once the booking was answered
	statusToken string
	sent        time.Time // the booking's request
	answered    time.Time // its answer: the create job is due from then at the latest
	endAnswered time.Time // the end's answer: the cleanup is due
	readyAt     time.Time
	settled     bool
}

type claim struct {
	registration int64
	kind         wod.JobKind
	sent, got    time.Time
}

// crowd is the bench's record of the participants and the agents' claims.
type crowd struct {
	mu      sync.Mutex
	people  map[int64]*participant
	claims  []claim
	done    int
	settles int
}

func newCrowd(n int) *crowd { return &crowd{people: make(map[int64]*participant, n)} }

func (c *crowd) get(id int64) *participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.person(id)
}

func (c *crowd) person(id int64) *participant {
	p := c.people[id]
	if p == nil {
		p = &participant{booked: make(chan struct{})}
		c.people[id] = p
	}
	return p
}

func (c *crowd) booked(id int64, statusURL string, sent, answered time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.person(id)
	p.statusToken, p.sent, p.answered = statusToken(statusURL), sent, answered
	close(p.booked)
}

func (c *crowd) claimed(id int64, kind wod.JobKind, sent, got time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims = append(c.claims, claim{registration: id, kind: kind, sent: sent, got: got})
}

// ready records the first ready report of a registration, and says
// whether it was the first.
func (c *crowd) ready(id int64, at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.person(id)
	if !p.readyAt.IsZero() {
		return false
	}
	p.readyAt = at
	return true
}

// readiness counts the participants made ready, and says when the last was.
func (c *crowd) readiness() (n int, last time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.people {
		if !p.readyAt.IsZero() {
			n++
			if p.readyAt.After(last) {
				last = p.readyAt
			}
		}
	}
	return n, last
}

func (c *crowd) ended(id int64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.person(id).endAnswered = at
}

// finish settles a participant: done, or given up on after an error.
func (c *crowd) finish(id int64, done bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.person(id)
	if p.settled {
		return
	}
	p.settled = true
	c.settles++
	if done {
		c.done++
	}
}

func (c *crowd) settled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settles
}

// figures returns the claim latencies, the booking-to-ready times and how
// many sessions ended done.
func (c *crowd) figures() (claims, ready []time.Duration, done int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.claims {
		p := c.people[cl.registration]
		if p == nil {
			continue
		}
		due := p.answered
		if cl.kind == wod.JobCleanup {
			due = p.endAnswered
		}
		if due.IsZero() {
			continue
		}
		// The job may come before the answer of the request that made it
		// (the commit wakes the long-poll): that is no wait at all.
		claims = append(claims, max(cl.got.Sub(later(cl.sent, due)), 0))
	}
	for _, p := range c.people {
		if !p.readyAt.IsZero() && !p.sent.IsZero() {
			ready = append(ready, p.readyAt.Sub(p.sent))
		}
	}
	return claims, ready, c.done
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// errorTally counts what went wrong, by kind: failed requests of the
// crowd, and the warnings and errors servers and agents log.
type errorTally struct {
	mu    sync.Mutex
	kinds map[string]int
	// closed ends the count with the run: what stopping the agents and
	// servers logs (claims cut short, mails not recorded) is not the run's.
	closed atomic.Bool
}

func (t *errorTally) add(kind string) { t.addN(kind, 1) }

func (t *errorTally) addN(kind string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.kinds[kind] += n
}

func (t *errorTally) total() (int, map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, k := range t.kinds {
		n += k
	}
	return n, t.kinds
}

func (t *errorTally) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (t *errorTally) Handle(_ context.Context, r slog.Record) error {
	if t.closed.Load() {
		return nil
	}
	kind := "log: " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" || a.Key == "status" || a.Key == "path" {
			kind += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	if len(kind) > 200 {
		kind = kind[:200]
	}
	t.add(kind)
	return nil
}

func (t *errorTally) WithAttrs([]slog.Attr) slog.Handler { return t }
func (t *errorTally) WithGroup(string) slog.Handler      { return t }

func (c *crowd) debug() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ready, ended, settled int
	var stuck []int64
	for id, p := range c.people {
		if !p.readyAt.IsZero() {
			ready++
		}
		if !p.endAnswered.IsZero() {
			ended++
		}
		if p.settled {
			settled++
		} else if len(stuck) < 5 {
			stuck = append(stuck, id)
		}
	}
	return fmt.Sprintf("people=%d ready=%d ended=%d settled=%d claims=%d stuck=%v", len(c.people), ready, ended, settled, len(c.claims), stuck)
}
