package agent

import (
	"context"
	"time"

	"github.com/wod-dev/wod"
)

// WarmSource lists the location's warm seats: made for a workshop's pool
// (wod.WarmPool), not yet taken.
type WarmSource interface {
	WarmSeats(ctx context.Context) ([]int, error)
}

// ServerLister is a Hub that names, in one request, the users whose server
// is running or changing state: the agent then asks to start only the warm
// seats' servers that are not.
type ServerLister interface {
	ActiveServers(ctx context.Context) (map[string]bool, error)
}

// warmServersEvery is how often the agent makes sure the warm seats'
// servers run.
const warmServersEvery = 2 * time.Minute

// keepWarmServers starts the server of every warm seat, at once and then
// every warmServersEvery, through the pre-starts (their slots, after the
// creates under way). A warm seat outlives what ends its server — a reboot
// of the hub host, an out-of-memory kill, a hub whose servers did not
// survive a restart — and without this it would keep no server until its
// participant's login: the rush the pool is for would wait for spawns.
// Starting a running server is a no-op for the hub.
func (o *HubOperator) keepWarmServers(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seats, err := o.Warm.WarmSeats(ctx)
		if err != nil {
			if ctx.Err() == nil && o.Logger != nil {
				o.Logger.Warn("the warm seats: their servers are not checked now", "error", err)
			}
		}
		var active map[string]bool // nil: ask for every one (a start of a running server is a no-op)
		if lister, ok := o.Hub.(ServerLister); ok && len(seats) > 0 {
			if active, err = lister.ActiveServers(ctx); err != nil && ctx.Err() == nil && o.Logger != nil {
				o.Logger.Warn("the hub's running servers: every warm seat's is asked for", "error", err)
			}
		}
		for _, n := range seats {
			if name := wod.StudentUsername(n); !active[name] {
				o.ensurePreStart(name)
			}
		}
		t.Reset(warmServersEvery)
	}
}

// ensurePreStart asks for a pre-start of the student's server unless one
// is waiting or under way.
func (o *HubOperator) ensurePreStart(name string) {
	p := &o.pre
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.waiting[name] && p.cancels[name] == nil {
		o.askPreStartLocked(name)
	}
}
