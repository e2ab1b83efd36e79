package agent

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// skewedServer hands out one job whose lease_until, on the server's clock,
// is already past on the agent's: the hub host runs minutes ahead.
type skewedServer struct {
	mu      sync.Mutex
	job     *wod.AgentJob
	reports chan wod.AgentResult
}

func (s *skewedServer) Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error) {
	s.mu.Lock()
	j := s.job
	s.job = nil
	s.mu.Unlock()
	if j == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return j, nil
}

func (s *skewedServer) Report(_ context.Context, _ int64, res wod.AgentResult) error {
	s.reports <- res
	return nil
}

func (s *skewedServer) Heartbeat(context.Context, wod.AgentHeartbeat) error { return nil }

// deadlineOperator records the deadline its operation got.
type deadlineOperator struct{ deadline chan time.Time }

func (o deadlineOperator) Run(ctx context.Context, _ *wod.AgentJob) (Outcome, error) {
	d, _ := ctx.Deadline()
	o.deadline <- d
	return Outcome{}, ctx.Err()
}

// TestLeaseOnTheAgentsClock: the operation's deadline comes from the
// lease's duration, measured on the agent's clock from the claim, not from
// the server's lease_until: a server clock five minutes behind would
// otherwise start every job already expired.
func TestLeaseOnTheAgentsClock(t *testing.T) {
	srv := &skewedServer{reports: make(chan wod.AgentResult, 1), job: &wod.AgentJob{ID: 7, Kind: wod.JobCreate,
		Attempt: 1, LeaseUntil: time.Now().Add(-5 * time.Minute), LeaseSeconds: 600}}
	op := deadlineOperator{deadline: make(chan time.Time, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Runner{Server: srv, Operator: op, Workers: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	claimed := time.Now()
	go r.Run(ctx)
	deadline := <-op.deadline
	res := <-srv.reports
	if !res.OK {
		t.Fatalf("the job failed: %s", res.Error)
	}
	if low, high := claimed.Add(590*time.Second), time.Now().Add(600*time.Second); deadline.Before(low) || deadline.After(high) {
		t.Fatalf("deadline %v, want about ten minutes after the claim (%v)", deadline, claimed)
	}
	// A server from before lease_seconds: its lease_until, as before.
	old := &wod.AgentJob{LeaseUntil: claimed.Add(time.Minute)}
	if got := leaseDeadline(old, claimed); !got.Equal(claimed.Add(55 * time.Second)) {
		t.Fatalf("without lease_seconds: %v", got)
	}
}
