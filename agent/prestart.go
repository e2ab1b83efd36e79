package agent

import (
	"context"
	"sync"
	"time"
)

// preStartTimeout bounds one pre-start, its waits included.
const preStartTimeout = 10 * time.Minute

// preStarts are the pre-starts of the students' servers (HubOperator's
// PreStart): goroutines that outlive the create which asked for them.
// RunBackground owns them: they run on its context, and it returns only
// once they have stopped.
type preStarts struct {
	mu sync.Mutex
	// owner is RunBackground's context while it runs, nil otherwise.
	owner context.Context
	// waiting are the students whose pre-start was asked for while no
	// RunBackground ran; it starts them.
	waiting map[string]bool
	// cancels stops the pre-start under way, per student: a lock must not
	// see a server come up behind it. The pointer is the pre-start's
	// identity, for a later one of the seat may have replaced it.
	cancels map[string]*context.CancelFunc
	running sync.WaitGroup

	slotsOnce sync.Once
	slots     chan struct{} // a semaphore: PreStarts at once
}

// RunBackground runs the pre-starts of the students' servers until ctx
// ends, then returns once those under way have stopped (ctx's end cancels
// them), and keeps the warm seats' servers running (Warm). The Runner
// calls it (BackgroundOperator). A pre-start asked for while it does not
// run waits for it.
func (o *HubOperator) RunBackground(ctx context.Context) {
	p := &o.pre
	p.mu.Lock()
	p.owner = ctx
	for name := range p.waiting {
		o.launchPreStart(name)
	}
	clear(p.waiting)
	p.mu.Unlock()

	var keeper sync.WaitGroup
	if o.Warm != nil && o.WarmServer {
		keeper.Go(func() { o.keepWarmServers(ctx) })
	}
	<-ctx.Done()
	keeper.Wait()
	p.mu.Lock()
	p.owner = nil // no pre-start starts after this: running.Wait may begin
	p.mu.Unlock()
	p.running.Wait()
}

// askPreStart starts the student's server in the background, replacing a
// pre-start of theirs still under way.
func (o *HubOperator) askPreStart(name string) {
	o.pre.mu.Lock()
	defer o.pre.mu.Unlock()
	o.askPreStartLocked(name)
}

// askPreStartLocked is askPreStart with p.mu held: a caller that first
// looks at the pre-starts under way (ensurePreStart) asks in the same hold.
func (o *HubOperator) askPreStartLocked(name string) {
	p := &o.pre
	if p.owner == nil {
		if p.waiting == nil {
			p.waiting = map[string]bool{}
		}
		p.waiting[name] = true
		return
	}
	o.launchPreStart(name)
}

// launchPreStart starts the goroutine of a pre-start; p.mu is held and
// p.owner set.
func (o *HubOperator) launchPreStart(name string) {
	p := &o.pre
	if p.cancels == nil {
		p.cancels = map[string]*context.CancelFunc{}
	}
	if previous := p.cancels[name]; previous != nil {
		(*previous)()
	}
	ctx, cancel := context.WithTimeout(p.owner, preStartTimeout)
	mine := &cancel
	p.cancels[name] = mine
	p.running.Go(func() {
		defer func() {
			cancel()
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.cancels[name] == mine {
				delete(p.cancels, name)
			}
		}()
		o.preStart(ctx, name)
	})
}

// cancelPreStart stops a pre-start of the student's server still waiting
// or under way.
func (o *HubOperator) cancelPreStart(name string) {
	p := &o.pre
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waiting, name)
	if cancel := p.cancels[name]; cancel != nil {
		(*cancel)()
		delete(p.cancels, name)
	}
}

// preStartSlots is the semaphore of the pre-starts: PreStarts at once,
// default 4.
func (o *HubOperator) preStartSlots() chan struct{} {
	o.pre.slotsOnce.Do(func() {
		n := o.PreStarts
		if n <= 0 {
			n = 4
		}
		o.pre.slots = make(chan struct{}, n)
	})
	return o.pre.slots
}

// preStart starts the student's server once a slot is free and no create
// is under way, with one more go for a spawn that timed out under load.
func (o *HubOperator) preStart(ctx context.Context, name string) {
	slots := o.preStartSlots()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return
	}
	var err error
	for attempt := range 2 {
		if o.creating.waitIdle(ctx) != nil {
			return
		}
		if err = o.Hub.StartServer(ctx, name); err == nil {
			return
		}
		if attempt == 0 {
			// A backoff, not a wait for something: a timer, or ctx's end.
			sleep(ctx, 5*time.Second)
		}
	}
	if o.Logger != nil {
		// Not fatal: the hub starts the server at the student's login.
		o.Logger.Warn("pre-start of a student's server failed", "student", name, "error", err)
	}
}

// busy counts the operations under way and signals when none is left:
// pre-starts wait on it for a burst of creates to pass, since credentials
// matter more than warm servers (a spawn costs the CPU and hub time the
// next participant's create needs).
type busy struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n falls back to 0
}

// begin counts an operation until the returned end is called.
func (b *busy) begin() (end func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		b.idle = make(chan struct{})
	}
	b.n++
	return sync.OnceFunc(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.n--
		if b.n == 0 {
			close(b.idle)
		}
	})
}

// waitIdle returns once no operation is under way, or ctx's error when ctx
// has ended first.
func (b *busy) waitIdle(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		if b.n == 0 {
			b.mu.Unlock()
			return nil
		}
		idle := b.idle
		b.mu.Unlock()
		select {
		case <-idle:
			// Another burst may have begun since: look again.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
