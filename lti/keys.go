package lti

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key sets are kept an hour; a token signed with a key the cached set
// lacks (the platform rotated its keys) fetches the set again, at most every
// ten seconds per platform.
const (
	keySetMaxAge    = time.Hour
	keySetMinRefill = 10 * time.Second
)

// keySets caches the platforms' public key sets by URL.
type keySets struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	sets   map[string]cachedSet
}

type cachedSet struct {
	set     jwk.Set
	fetched time.Time
}

// get returns the key set at url, fresh enough to hold the key kid. The
// fetch runs without the lock, so that a slow platform holds up its own
// launches only; a platform whose key set cannot be fetched keeps being
// verified with the set it served last (a hiccup of its endpoint must not
// refuse a class's launches).
func (k *keySets) get(ctx context.Context, url, kid string) (jwk.Set, error) {
	now := k.now()
	k.mu.Lock()
	c, cached := k.sets[url]
	k.mu.Unlock()
	if cached {
		_, hasKid := c.set.LookupKeyID(kid)
		age := now.Sub(c.fetched)
		if age < keySetMaxAge && (kid == "" || hasKid || age < keySetMinRefill) {
			return c.set, nil
		}
	}
	set, err := jwk.Fetch(ctx, url, jwk.WithHTTPClient(k.client))
	if err != nil {
		if cached {
			return c.set, nil
		}
		return nil, fmt.Errorf("the platform's key set at %s: %w", url, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sets == nil {
		k.sets = map[string]cachedSet{}
	}
	k.sets[url] = cachedSet{set: set, fetched: now}
	return set, nil
}

// keyID reads the kid of a compact JWS's header, before verification, to
// know whether the cached key set can verify it.
func keyID(token string) string {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Kid
}
