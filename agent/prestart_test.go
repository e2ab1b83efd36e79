package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// startHub is a Hub whose StartServer reports each call on started and,
// when block is set, runs until its context ends.
type startHub struct {
	Hub
	block   bool
	started chan string
	mu      sync.Mutex
	calls   []string
	// returned counts the StartServer calls that returned.
	returned atomic.Int32
	// during is called at each start, for the test's checks.
	during func(name string)
}

func (h *startHub) StartServer(ctx context.Context, name string) error {
	defer h.returned.Add(1)
	h.mu.Lock()
	h.calls = append(h.calls, name)
	h.mu.Unlock()
	if h.during != nil {
		h.during(name)
	}
	h.started <- name
	if h.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (h *startHub) startCalls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// runBackground runs op.RunBackground until the test ends or stop is
// called, which returns once RunBackground has.
func runBackground(t *testing.T, op *HubOperator) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		op.RunBackground(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("RunBackground did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitStart(t *testing.T, h *startHub) string {
	t.Helper()
	select {
	case name := <-h.started:
		return name
	case <-time.After(10 * time.Second):
		t.Fatal("no pre-start")
		return ""
	}
}

// TestPreStartWaitsForCreates: a pre-start waits for the creates under
// way to end (credentials first), and starts as soon as they have.
func TestPreStartWaitsForCreates(t *testing.T) {
	var createsOver atomic.Bool
	hub := &startHub{started: make(chan string, 1)}
	hub.during = func(string) {
		if !createsOver.Load() {
			t.Error("the server started while a create was under way")
		}
	}
	op := &HubOperator{Hub: hub}
	runBackground(t, op)

	endFirst, endSecond := op.creating.begin(), op.creating.begin()
	op.askPreStart("student1")
	endFirst()
	endFirst() // twice is once
	createsOver.Store(true)
	endSecond()
	if name := waitStart(t, hub); name != "student1" {
		t.Fatalf("started %s", name)
	}
}

// TestPreStartEndsWithItsOwner: the pre-starts run on RunBackground's
// context, and RunBackground returns only once they have stopped.
func TestPreStartEndsWithItsOwner(t *testing.T) {
	hub := &startHub{block: true, started: make(chan string, 2)}
	op := &HubOperator{Hub: hub}
	stop := runBackground(t, op)
	op.askPreStart("student1")
	op.askPreStart("student2")
	waitStart(t, hub)
	waitStart(t, hub)
	stop()
	if n := hub.returned.Load(); n != 2 {
		t.Fatalf("RunBackground returned with %d of 2 starts stopped", n)
	}
}

// TestPreStartAskedBeforeItsOwnerRuns: a create that finishes before
// RunBackground runs still gets its pre-start, once it does.
func TestPreStartAskedBeforeItsOwnerRuns(t *testing.T) {
	hub := &startHub{started: make(chan string, 1)}
	op := &HubOperator{Hub: hub}
	op.askPreStart("student3")
	runBackground(t, op)
	if name := waitStart(t, hub); name != "student3" {
		t.Fatalf("started %s", name)
	}
}

// TestPreStartCancelled: a lock cancels the seat's pre-start, whether it
// waits for its owner to run or is under way.
func TestPreStartCancelled(t *testing.T) {
	hub := &startHub{block: true, started: make(chan string, 2)}
	op := &HubOperator{Hub: hub}
	op.askPreStart("student1") // before RunBackground
	op.cancelPreStart("student1")
	if len(op.pre.waiting) != 0 {
		t.Fatalf("still waiting: %v", op.pre.waiting)
	}
	runBackground(t, op)

	op.askPreStart("student2")
	waitStart(t, hub)
	op.cancelPreStart("student2")
	deadline := time.After(10 * time.Second)
	for hub.returned.Load() == 0 {
		select {
		case <-deadline:
			t.Fatal("the cancelled start goes on")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if calls := hub.startCalls(); !slices.Equal(calls, []string{"student2"}) {
		t.Fatalf("started %v", calls)
	}
}

// TestRunnerWaitsForItsOperatorsBackground: the Runner runs a
// BackgroundOperator's RunBackground and returns only after it.
func TestRunnerWaitsForItsOperatorsBackground(t *testing.T) {
	op := &backgroundOperator{running: make(chan struct{})}
	srv := &skewedServer{reports: make(chan wod.AgentResult, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Runner{Server: srv, Operator: op, Workers: 1, Logger: slog.New(slog.DiscardHandler)}).Run(ctx)
	}()
	<-op.running
	cancel()
	<-done
	if !op.stopped.Load() {
		t.Fatal("Run returned before its operator's background work")
	}
}

type backgroundOperator struct {
	running chan struct{}
	stopped atomic.Bool
}

func (o *backgroundOperator) Run(context.Context, *wod.AgentJob) (Outcome, error) {
	return Outcome{}, errors.New("no job expected")
}

func (o *backgroundOperator) RunBackground(ctx context.Context) {
	close(o.running)
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond) // stopping takes a moment
	o.stopped.Store(true)
}

// TestBusyWaitIdle: waitIdle returns when the last operation ends, or
// with ctx's error.
func TestBusyWaitIdle(t *testing.T) {
	var b busy
	if err := b.waitIdle(t.Context()); err != nil {
		t.Fatalf("idle: %v", err)
	}
	end := b.begin()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := b.waitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("busy until ctx ends: %v", err)
	}
	time.AfterFunc(20*time.Millisecond, end)
	if err := b.waitIdle(t.Context()); err != nil {
		t.Fatalf("busy until the end: %v", err)
	}
}
