package httpapi

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wod-dev/wod"
)

// agentTokenTTL is how long a server trusts what an agent token was found
// to open. A token replaced or a location removed through this server's
// API is forgotten at once; through another replica, the admin pages or the
// CLI, within this time.
const agentTokenTTL = time.Second

// agentTokenLookupTimeout bounds a token's lookup shared by several
// requests (see lookup).
const agentTokenLookupTimeout = 10 * time.Second

// agentTokensKept bounds what agentTokens holds: more than a site has
// locations; past it, it starts afresh.
const agentTokensKept = 1024

// agentTokens remembers which location an agent token authenticated:
// every claim, report and heartbeat of an agent carries the token, and
// under a crowd each would otherwise cost a database lookup (four per
// participant). Only tokens that were found are kept, so a stranger's
// guesses cannot fill it; there are as many as locations.
type agentTokens struct {
	mu   sync.Mutex
	seen map[string]agentTokenEntry
	// lookups makes the requests that find a token forgotten together (an
	// agent's workers, each second) share one database lookup.
	lookups singleflight.Group
}

type agentTokenEntry struct {
	location wod.Location
	until    time.Time
}

// find returns the location the token hash opened less than agentTokenTTL
// ago, as a copy of its own for the request, or nil.
func (c *agentTokens) find(hash []byte, now time.Time) *wod.Location {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.seen[string(hash)]
	if !ok || !now.Before(e.until) {
		return nil
	}
	l := e.location
	return &l
}

// lookup returns the location the token hash opens: remembered, or found
// by find in the database and then remembered.
func (c *agentTokens) lookup(ctx context.Context, hash []byte,
	find func(ctx context.Context, hash []byte) (*wod.Location, error)) (*wod.Location, error) {
	if l := c.find(hash, time.Now()); l != nil {
		return l, nil
	}
	v, err, _ := c.lookups.Do(string(hash), func() (any, error) {
		// Shared: the request that happens to look it up must not fail
		// the others by going away.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), agentTokenLookupTimeout)
		defer cancel()
		l, err := find(ctx, hash)
		if err != nil {
			return nil, err
		}
		c.remember(hash, l, time.Now())
		return *l, nil
	})
	if err != nil {
		return nil, err
	}
	l := v.(wod.Location) // a copy of its own for each request
	return &l, nil
}

func (c *agentTokens) remember(hash []byte, l *wod.Location, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= agentTokensKept {
		c.seen = map[string]agentTokenEntry{}
	}
	c.seen[string(hash)] = agentTokenEntry{location: *l, until: now.Add(agentTokenTTL)}
}

// forget drops everything: a location or its token changed.
func (c *agentTokens) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = nil
}
