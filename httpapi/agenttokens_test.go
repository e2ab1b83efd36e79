package httpapi

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// TestAgentTokens: a token's location is trusted for agentTokenTTL, each
// request gets its own copy, and forget drops everything at once.
func TestAgentTokens(t *testing.T) {
	var c agentTokens
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	hash := []byte("hash of a token")
	if l := c.find(hash, now); l != nil {
		t.Fatalf("found %+v before any lookup", l)
	}
	c.remember(hash, &wod.Location{ID: 7, Name: "hub1"}, now)
	l := c.find(hash, now.Add(agentTokenTTL-time.Millisecond))
	if l == nil || l.ID != 7 || l.Name != "hub1" {
		t.Fatalf("within the TTL: %+v", l)
	}
	l.Name = "changed by a request"
	if again := c.find(hash, now); again.Name != "hub1" {
		t.Fatalf("a request changed what the next one reads: %+v", again)
	}
	if l := c.find([]byte("another token"), now); l != nil {
		t.Fatalf("another token opened %+v", l)
	}
	if l := c.find(hash, now.Add(agentTokenTTL)); l != nil {
		t.Fatalf("past the TTL: %+v", l)
	}
	c.remember(hash, &wod.Location{ID: 7, Name: "hub1"}, now)
	c.forget()
	if l := c.find(hash, now); l != nil {
		t.Fatalf("after forget: %+v", l)
	}
	for i := range agentTokensKept + 1 {
		c.remember([]byte{byte(i), byte(i >> 8)}, &wod.Location{ID: int64(i)}, now)
	}
	if n := len(c.seen); n > agentTokensKept {
		t.Fatalf("holds %d tokens, more than %d", n, agentTokensKept)
	}
}

// TestAgentTokenLookupsShared: the requests that find a token forgotten
// at the same moment share one lookup, each with its own copy of the
// location; a token that opens nothing is not remembered.
func TestAgentTokenLookupsShared(t *testing.T) {
	var c agentTokens
	hash := []byte("hash of a token")
	var calls atomic.Int32
	release := make(chan struct{})
	find := func(ctx context.Context, h []byte) (*wod.Location, error) {
		calls.Add(1)
		<-release
		return &wod.Location{ID: 7, Name: "hub1"}, nil
	}
	const workers = 4
	got := make(chan *wod.Location, workers)
	for range workers {
		go func() {
			l, err := c.lookup(context.Background(), hash, find)
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
	}
	// Let every worker reach the lookup before the first one returns.
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	var first *wod.Location
	for range workers {
		l := <-got
		if l == nil || l.ID != 7 || l == first {
			t.Fatalf("lookup gave %+v (the first gave %p)", l, first)
		}
		first = l
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d lookups for %d requests at once", n, workers)
	}
	if _, err := c.lookup(context.Background(), hash, find); err != nil || calls.Load() != 1 {
		t.Fatalf("a remembered token was looked up again: %v, %d lookups", err, calls.Load())
	}
	unknown := errors.New("unknown token")
	if _, err := c.lookup(context.Background(), []byte("wrong"), func(context.Context, []byte) (*wod.Location, error) {
		return nil, unknown
	}); !errors.Is(err, unknown) || c.find([]byte("wrong"), time.Now()) != nil {
		t.Fatalf("an unknown token: %v", err)
	}
}

// TestAgentTokenLookupOutlivesItsRequest: the request whose lookup the
// others share may go away; the lookup, and the others, carry on.
func TestAgentTokenLookupOutlivesItsRequest(t *testing.T) {
	var c agentTokens
	hash := []byte("hash of a token")
	started, release := make(chan struct{}), make(chan struct{})
	find := func(ctx context.Context, h []byte) (*wod.Location, error) {
		close(started)
		<-release
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return &wod.Location{ID: 7}, nil
	}
	gone, leave := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.lookup(gone, hash, find)
		first <- err
	}()
	<-started
	second := make(chan *wod.Location, 1)
	go func() {
		l, err := c.lookup(context.Background(), hash, find)
		if err != nil {
			t.Error(err)
		}
		second <- l
	}()
	time.Sleep(20 * time.Millisecond) // the second joins the first's lookup
	leave()
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the lookup failed with its first request gone: %v", err)
	}
	if l := <-second; l == nil || l.ID != 7 {
		t.Fatalf("the second request got %+v", l)
	}
}
