package jupyterhub

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Audit event kinds of the hub's login throttle.
const (
	EventLoginFailed  = "hub.login_failed"  // wrong password, unknown or disallowed user
	EventLoginBlocked = "hub.login_blocked" // an address, or a user name from it, is refused from now on
	EventLoginRefused = "hub.login_refused" // attempts of a refused address or user name
)

// Scopes of a block: the whole address, or one user name from it.
const (
	scopeAddress = "address"
	scopeUser    = "user"
)

const (
	// defaultAuditEvery is the rate limit: per kind and address, one event
	// at once, then at most one summary per interval.
	defaultAuditEvery = time.Minute
	// maxAuditKeys bounds what is remembered between summaries; beyond,
	// addresses are summed up as one.
	maxAuditKeys = 1000
	// maxAuditQueue bounds the events waiting for delivery.
	maxAuditQueue = 1000
	// maxAuditUsers is how many distinct user names a summary names;
	// maxAuditOthers how many more it counts.
	maxAuditUsers  = 5
	maxAuditOthers = 100
	// otherAddresses stands for the addresses beyond maxAuditKeys.
	otherAddresses = "other addresses"
	// auditTimeout bounds one delivery to the server.
	auditTimeout = 10 * time.Second
)

// loginRecord is one line the hub writes on the audit pipe.
type loginRecord struct {
	Event    string  `json:"event"` // failed, blocked, refused
	Addr     string  `json:"addr"`
	User     string  `json:"user"`
	Failures int     `json:"failures"`
	Seconds  float64 `json:"seconds"`
	Scope    string  `json:"scope"` // blocked, refused: address or user
}

// AuditEvent is one event for the audit trail.
type AuditEvent struct {
	Kind, Detail string
}

type auditKey struct{ kind, addr, scope string }

// auditBucket gathers the records of one kind and address between two
// events.
type auditBucket struct {
	next     time.Time // no event before then
	count    int
	users    []string
	others   map[string]bool // distinct names beyond users, up to maxAuditOthers
	failures int
	seconds  float64
}

// loginAudit turns the hub's records into audit events, rate limited so that
// a flood of attempts makes a few events, each with a count.
type loginAudit struct {
	every time.Duration

	mu      sync.Mutex
	buckets map[auditKey]*auditBucket
	queue   []AuditEvent
	dropped int
}

func newLoginAudit(every time.Duration) *loginAudit {
	if every <= 0 {
		every = defaultAuditEvery
	}
	return &loginAudit{every: every, buckets: map[auditKey]*auditBucket{}}
}

// read consumes the audit pipe until EOF (the hub exited).
func (a *loginAudit) read(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		var rec loginRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			log.Warn("unreadable line on the hub's audit pipe", "err", err)
			continue
		}
		if err := a.add(rec, time.Now()); err != nil {
			log.Warn("unexpected record on the hub's audit pipe", "err", err)
		}
	}
	// Only an over-long line stops the scanner early; keep the pipe
	// flowing.
	_, _ = io.Copy(io.Discard, r)
}

// add counts one record; the first of its kind and address in an interval
// becomes an event at once.
func (a *loginAudit) add(rec loginRecord, now time.Time) error {
	var kind string
	switch rec.Event {
	case "failed":
		kind = EventLoginFailed
	case "blocked":
		kind = EventLoginBlocked
	case "refused":
		kind = EventLoginRefused
	default:
		return fmt.Errorf("event %q", clip(rec.Event, 32))
	}
	addr := clip(rec.Addr, 64)
	if addr == "" {
		addr = "unknown"
	}
	scope := ""
	if kind != EventLoginFailed {
		switch rec.Scope {
		case "", scopeAddress: // hubs started before scopes block addresses only
			scope = scopeAddress
		case scopeUser:
			scope = scopeUser
		default:
			return fmt.Errorf("scope %q", clip(rec.Scope, 32))
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := auditKey{kind, addr, scope}
	b := a.buckets[k]
	if b == nil {
		if len(a.buckets) >= maxAuditKeys {
			k.addr = otherAddresses
			b = a.buckets[k]
		}
		if b == nil {
			b = &auditBucket{}
			a.buckets[k] = b
		}
	}
	b.count++
	b.failures = max(b.failures, rec.Failures)
	b.seconds = max(b.seconds, rec.Seconds)
	if u := clip(rec.User, 64); !slices.Contains(b.users, u) {
		switch {
		case len(b.users) < maxAuditUsers:
			b.users = append(b.users, u)
		case b.others == nil:
			b.others = map[string]bool{u: true}
		case len(b.others) < maxAuditOthers:
			b.others[u] = true
		}
	}
	if !now.Before(b.next) {
		a.emit(k, b, now)
	}
	return nil
}

// flush turns what gathered since the last event of each kind and address
// into events once their interval is over (all of it when final), and
// forgets the quiet ones.
func (a *loginAudit) flush(now time.Time, final bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]auditKey, 0, len(a.buckets))
	for k := range a.buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // a stable order of events
		if keys[i].addr != keys[j].addr {
			return keys[i].addr < keys[j].addr
		}
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].scope < keys[j].scope
	})
	for _, k := range keys {
		b := a.buckets[k]
		switch {
		case b.count > 0 && (final || !now.Before(b.next)):
			a.emit(k, b, now)
		case b.count == 0 && !now.Before(b.next):
			delete(a.buckets, k)
		}
	}
}

// take returns the events due and how many were dropped since the last
// call.
func (a *loginAudit) take() ([]AuditEvent, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q, d := a.queue, a.dropped
	a.queue, a.dropped = nil, 0
	return q, d
}

// emit queues the bucket's event and starts its next interval. a.mu held.
func (a *loginAudit) emit(k auditKey, b *auditBucket, now time.Time) {
	if len(a.queue) < maxAuditQueue {
		a.queue = append(a.queue, AuditEvent{Kind: k.kind, Detail: auditDetail(k, b)})
	} else {
		a.dropped++
	}
	*b = auditBucket{next: now.Add(a.every)}
}

// auditDetail says what happened. Names are quoted: they are whatever was
// typed in the login form.
func auditDetail(k auditKey, b *auditBucket) string {
	users := make([]string, len(b.users))
	for i, u := range b.users {
		users[i] = fmt.Sprintf("%q", u)
	}
	names := strings.Join(users, ", ")
	more := len(b.others)
	switch {
	case more >= maxAuditOthers:
		names += fmt.Sprintf(" and %d+ more", more)
	case more > 0:
		names += fmt.Sprintf(" and %d more", more)
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	who := plural(len(b.users)+more, "user ", "users ") + names
	d := time.Duration(b.seconds * float64(time.Second)).Round(time.Second)
	switch {
	case k.kind == EventLoginBlocked && k.scope == scopeUser:
		return fmt.Sprintf("%s refused at the hub's login from %s for %v after %d failed logins %s", who, k.addr, d, b.failures,
			plural(len(b.users)+more, "of that name", "of each name"))
	case k.kind == EventLoginBlocked:
		return fmt.Sprintf("%s refused at the hub's login for %v after %d failed logins (%s)", k.addr, d, b.failures, who)
	case k.kind == EventLoginRefused && k.scope == scopeUser:
		return fmt.Sprintf("%d %s to the hub refused from %s for a blocked user name (%s)", b.count,
			plural(b.count, "login", "logins"), k.addr, who)
	case k.kind == EventLoginRefused:
		return fmt.Sprintf("%d %s to the hub refused from %s, which is blocked (%s)", b.count,
			plural(b.count, "login", "logins"), k.addr, who)
	default:
		return fmt.Sprintf("%d failed %s to the hub from %s (%s)", b.count, plural(b.count, "login", "logins"), k.addr, who)
	}
}

// deliver sends the due events to sink until ctx ends, then what is left.
func (a *loginAudit) deliver(ctx context.Context, sink func(ctx context.Context, kind, detail string) error, log *slog.Logger) {
	tick := time.NewTicker(min(time.Second, a.every/2))
	defer tick.Stop()
	send := func(ctx context.Context) {
		events, dropped := a.take()
		if dropped > 0 {
			log.Warn("hub login events dropped: too many at once", "dropped", dropped)
		}
		for _, e := range events {
			log.Warn("hub login", "kind", e.Kind, "detail", e.Detail)
			if sink == nil {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, auditTimeout)
			if err := sink(sctx, e.Kind, e.Detail); err != nil {
				log.Warn("reporting a hub login event", "kind", e.Kind, "err", err)
			}
			cancel()
		}
	}
	for {
		select {
		case <-ctx.Done():
			// What gathered still goes out, within a short grace.
			a.flush(time.Now(), true)
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			send(final)
			cancel()
			return
		case now := <-tick.C:
			a.flush(now, false)
			send(ctx)
		}
	}
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
