// Package login checks operators' passwords, for every door that takes one
// (the API's POST /api/v1/login and the admin pages' form), under one rule:
//
//   - Password checks are bounded. argon2id takes 64 MiB per check, so at
//     most Concurrency checks run at once in the process, and at most one
//     per client address; a login beyond that is answered at once with
//     ERATELIMITED (429, Retry-After: 1) and hashes nothing.
//   - An attempt is counted before its password is checked, and cleared
//     only by a success, so attempts made at the same moment cannot all
//     pass the throttle.
//   - The throttle keys are the client address (20 attempts, then locks of
//     30 s doubling up to an hour) and the address with the user name (5
//     attempts, then the same locks). An IPv6 address counts by its /64,
//     which one client usually holds whole.
//   - There is no lock on a user name alone: anyone could use it to keep an
//     operator out. Guessing one operator's password from many addresses is
//     bounded by the per-address limits times the addresses, and by the
//     pool (a few checks a second in all); every failure is an audit event.
package login

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// DefaultConcurrency is how many password checks run at once unless told:
// two argon2id checks are 128 MiB and keep two cores busy.
const DefaultConcurrency = 2

// ErrBusy is in the error of a login refused because the password checks
// are all taken; it is also an ERATELIMITED *wod.Error.
var ErrBusy = errors.New("password checks busy")

// The throttle's rule, per key.
const (
	addressUserFree = 5
	addressFree     = 20
	firstLock       = 30 * time.Second
	maxLock         = time.Hour
	window          = 15 * time.Minute
)

// Guard checks passwords and opens sessions. Fill its fields before the
// first Login; it is safe for concurrent use.
type Guard struct {
	Users    wod.UserService
	Sessions wod.SessionService
	Events   wod.EventService
	Clock    wod.Clock
	Logger   *slog.Logger
	// SessionTTL is how long a session lasts.
	SessionTTL time.Duration
	// Concurrency bounds the password checks that run at once
	// (DefaultConcurrency when zero).
	Concurrency int
	// Passwords checks operators' passwords in Login; the zero Hasher is
	// wod's argon2id parameters, which a login with an unknown name also
	// spends.
	Passwords secret.Hasher

	once     sync.Once
	slots    chan struct{}
	mu       sync.Mutex
	checking map[string]bool // addresses with a check running
}

// Session is what a successful login opens.
type Session struct {
	User *wod.User
	// Token is the session secret for the cookie; only its hash is stored.
	Token     string
	ExpiresAt time.Time
}

// Login checks username's password for a client at address (as the HTTP
// layer determined it) and opens a session. A wrong name or password is
// EUNAUTHORIZED, a throttled or refused attempt ERATELIMITED with
// RetryAfter.
func (g *Guard) Login(ctx context.Context, address, username, password string) (*Session, error) {
	var u *wod.User
	err := g.Check(ctx, address, username, func(ctx context.Context) (bool, error) {
		var err error
		u, err = g.Users.FindUserByName(ctx, username)
		if err != nil && wod.ErrorCode(err) != wod.ENOTFOUND {
			return false, err
		}
		hash := ""
		if u != nil && !u.Disabled {
			hash = u.PasswordHash
		}
		return g.Passwords.Check(password, hash), nil
	})
	if err != nil {
		return nil, err
	}
	if secret.NeedsRehash(u.PasswordHash) {
		// Before the session opens: changing the hash ends the user's
		// sessions.
		if err := g.rehash(ctx, u, password); err != nil {
			return nil, err
		}
	}
	token, _, hashed := secret.NewToken()
	expires := g.Clock.Now().Add(g.SessionTTL)
	if err := g.Sessions.CreateSession(ctx, hashed, u.ID, expires); err != nil {
		return nil, err
	}
	if err := g.Users.TouchLogin(ctx, u.ID); err != nil {
		return nil, err
	}
	g.audit(ctx, "login", "user:"+u.Username, "from "+address)
	return &Session{User: u, Token: token, ExpiresAt: expires}, nil
}

// Check runs verify, a password check for username, under the guard's
// rule (bounded checks, the throttle, the audit of failures): the doors
// that take another kind of password (the legacy routes' student logins)
// are throttled as operators' logins are. verify answering false is
// EUNAUTHORIZED.
func (g *Guard) Check(ctx context.Context, address, username string, verify func(context.Context) (bool, error)) error {
	g.once.Do(func() {
		g.slots = make(chan struct{}, cmp.Or(g.Concurrency, DefaultConcurrency))
		g.checking = map[string]bool{}
	})
	client := addressKey(address)
	release, ok := g.acquire(client)
	if !ok {
		return fmt.Errorf("%w: %w", ErrBusy, &wod.Error{Code: wod.ERATELIMITED, RetryAfter: time.Second,
			Message: "too many logins are being checked at this moment; try again in a second"})
	}
	defer release()

	user := strings.ToLower(username)
	limits := []wod.LoginLimit{
		{Key: "ip:" + client, Free: addressFree, FirstLock: firstLock, MaxLock: maxLock, Window: window},
		{Key: "ip-user:" + client + " " + user, Free: addressUserFree, FirstLock: firstLock, MaxLock: maxLock, Window: window},
	}
	until, err := g.Sessions.ReserveLoginAttempt(ctx, limits...)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		return &wod.Error{Code: wod.ERATELIMITED, RetryAfter: until.Sub(g.Clock.Now()),
			Message: fmt.Sprintf("too many failed logins; try again after %s", until.Format(time.RFC3339))}
	}
	ok, err = verify(ctx)
	if err != nil {
		return err
	}
	if !ok {
		g.audit(ctx, "login.failed", "user:"+username, "from "+address)
		return wod.Errorf(wod.EUNAUTHORIZED, "wrong user name or password")
	}
	// The address's count goes too: the person at it is not guessing.
	return g.Sessions.ClearLoginFailures(ctx, limits[0].Key, limits[1].Key)
}

// acquire takes a check slot for the client, if one is free and the client
// holds none: one client cannot fill the pool and keep the others out.
func (g *Guard) acquire(client string) (release func(), ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.checking[client] {
		return nil, false
	}
	select {
	case g.slots <- struct{}{}:
	default:
		return nil, false
	}
	g.checking[client] = true
	return func() {
		g.mu.Lock()
		delete(g.checking, client)
		g.mu.Unlock()
		<-g.slots
	}, true
}

// addressKey is what the throttle counts a client by: its IPv4 address, or
// the /64 of its IPv6 address.
func addressKey(address string) string {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// audit records an event; a failure to record is logged, not fatal to the
// login that already happened.
func (g *Guard) audit(ctx context.Context, kind, subject, detail string) {
	if err := g.Events.RecordEvent(ctx, &wod.Event{Actor: "anonymous", Kind: kind, Subject: subject, Detail: detail}); err != nil {
		g.Logger.ErrorContext(ctx, "record audit event", "kind", kind, "error", err)
	}
}

// rehash replaces an imported hash (the original's bcrypt) by an argon2id
// one, now that the password is known to match it.
func (g *Guard) rehash(ctx context.Context, u *wod.User, password string) error {
	hash, err := g.Passwords.Hash(password)
	if err != nil {
		return err
	}
	nu, err := g.Users.UpdateUser(ctx, u.ID, wod.UserUpdate{PasswordHash: &hash})
	if err != nil {
		return fmt.Errorf("replace %s's imported password hash: %w", u.Username, err)
	}
	*u = *nu
	g.audit(ctx, "password rehashed", "user:"+u.Username, "bcrypt hash from the original replaced by argon2id")
	return nil
}
