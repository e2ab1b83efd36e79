package agent

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

type warmList struct {
	seats []int
	calls atomic.Int32
}

func (w *warmList) WarmSeats(context.Context) ([]int, error) {
	w.calls.Add(1)
	return w.seats, nil
}

// TestWarmServersKeptRunning: the agent starts the server of every warm
// seat when it starts (a reboot left them without), through the
// pre-starts, and never asks twice for a server whose start is under way.
func TestWarmServersKeptRunning(t *testing.T) {
	hub := &startHub{block: true, started: make(chan string, 4)}
	warm := &warmList{seats: []int{5, 7}}
	op := &HubOperator{Hub: hub, WarmServer: true, Warm: warm}
	stop := runBackground(t, op)
	got := []string{waitStart(t, hub), waitStart(t, hub)}
	slices.Sort(got)
	if !slices.Equal(got, []string{"student5", "student7"}) {
		t.Fatalf("started %v, want the two warm seats' servers", got)
	}
	op.ensurePreStart("student5") // under way: not again
	select {
	case name := <-hub.started:
		t.Fatalf("a second start of %s while the first was under way", name)
	case <-time.After(300 * time.Millisecond):
	}
	stop()
	if n := hub.returned.Load(); n != 2 {
		t.Fatalf("RunBackground returned with %d of 2 starts stopped", n)
	}
}

// TestWarmServersOnlyWithWarmServer: with --warm-server=false a warm seat
// is its account alone, and no server is started for it.
func TestWarmServersOnlyWithWarmServer(t *testing.T) {
	hub := &startHub{started: make(chan string, 1)}
	warm := &warmList{seats: []int{5}}
	op := &HubOperator{Hub: hub, Warm: warm}
	stop := runBackground(t, op)
	time.Sleep(200 * time.Millisecond)
	stop()
	if n := warm.calls.Load(); n != 0 || len(hub.startCalls()) != 0 {
		t.Fatalf("warm seats read %d times, servers started %v, without WarmServer", n, hub.startCalls())
	}
}

// listingHub is a startHub that says which servers run.
type listingHub struct {
	*startHub
	active map[string]bool
}

func (h listingHub) ActiveServers(context.Context) (map[string]bool, error) { return h.active, nil }

// TestWarmServersOnlyTheMissing: with a hub that lists its running
// servers, only the warm seats whose server is not running are started.
func TestWarmServersOnlyTheMissing(t *testing.T) {
	hub := listingHub{startHub: &startHub{started: make(chan string, 2)}, active: map[string]bool{"student5": true}}
	op := &HubOperator{Hub: hub, WarmServer: true, Warm: &warmList{seats: []int{5, 7}}}
	runBackground(t, op)
	if name := waitStart(t, hub.startHub); name != "student7" {
		t.Fatalf("started %s, want student7 (student5's server runs)", name)
	}
	select {
	case name := <-hub.started:
		t.Fatalf("started %s too", name)
	case <-time.After(300 * time.Millisecond):
	}
}
