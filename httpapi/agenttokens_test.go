package httpapi

import (
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
