package login

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// onStore runs fn on a real store. SQLite only: every check costs an
// argon2id hash, and the store's side of the rule is tested on both
// databases in package store.
func onStore(t *testing.T, fn func(t *testing.T, db *store.DB, clock *storetest.Clock)) {
	clock := storetest.NewClock(storetest.T0)
	fn(t, storetest.Open(t, store.SQLite, clock), clock)
}

func newGuard(t *testing.T, db *store.DB, clock wod.Clock, concurrency int) *Guard {
	t.Helper()
	// Cheap argon2id: every check below costs its hash's parameters, and
	// the rule under test does not depend on them.
	cheap := secret.CheapHasher()
	hash, err := cheap.Hash("the admin's password")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(context.Background(), &wod.User{Username: "admin", Role: wod.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	return &Guard{Users: db, Sessions: db, Events: db, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SessionTTL: time.Hour, Concurrency: concurrency, Passwords: cheap}
}

func failedLogins(t *testing.T, db *store.DB) int {
	t.Helper()
	kind := "login.failed"
	_, n, err := db.FindEvents(context.Background(), wod.EventFilter{Kind: &kind, Page: wod.Page{Limit: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNoLockoutFromElsewhere: failures from one address lock that address
// out, never the operator at another.
func TestNoLockoutFromElsewhere(t *testing.T) {
	onStore(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		g := newGuard(t, db, clock, 2)
		for i := range 5 {
			if _, err := g.Login(ctx, "192.0.2.66", "admin", "guess"); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
				t.Fatalf("guess %d: %v", i+1, err)
			}
		}
		_, err := g.Login(ctx, "192.0.2.66", "admin", "the admin's password")
		var e *wod.Error
		if !errors.As(err, &e) || e.Code != wod.ERATELIMITED || e.RetryAfter != 30*time.Second {
			t.Fatalf("the guessing address after 5 failures: %v", err)
		}
		// Spraying other names from there is cut off too, at 20 attempts.
		refused := 0
		for i := range 30 {
			if _, err := g.Login(ctx, "192.0.2.77", "name"+string(rune('a'+i)), "guess"); wod.ErrorCode(err) == wod.ERATELIMITED {
				refused++
			}
		}
		if refused != 10 {
			t.Fatalf("%d of 30 sprayed names refused, want all past the 20th", refused)
		}
		s, err := g.Login(ctx, "198.51.100.1", "admin", "the admin's password")
		if err != nil || s.User.Username != "admin" || s.Token == "" || !s.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
			t.Fatalf("the admin from elsewhere: %+v %v", s, err)
		}
		if u, err := db.FindSessionUser(ctx, secret.HashToken(s.Token)); err != nil || u.Username != "admin" {
			t.Fatalf("the session: %v %v", u, err)
		}
		if n := failedLogins(t, db); n != 5+20 {
			t.Fatalf("%d failed logins audited, want 25", n)
		}
	})
}

// TestBoundedChecks: beyond the pool, or with a check of its own running,
// a client is refused at once and its password is not checked.
func TestBoundedChecks(t *testing.T) {
	onStore(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		g := newGuard(t, db, clock, 2)
		if _, err := g.Login(ctx, "192.0.2.1", "admin", "guess"); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("first login: %v", err)
		}
		busy := func(address string) {
			t.Helper()
			_, err := g.Login(ctx, address, "admin", "the admin's password")
			var e *wod.Error
			if !errors.Is(err, ErrBusy) || !errors.As(err, &e) || e.Code != wod.ERATELIMITED || e.RetryAfter != time.Second {
				t.Fatalf("login from %s with the pool taken: %v", address, err)
			}
		}
		// A check running for 192.0.2.2: its next attempt waits, others go on.
		release, ok := g.acquire(addressKey("192.0.2.2"))
		if !ok {
			t.Fatal("no free slot")
		}
		busy("192.0.2.2")
		if _, err := g.Login(ctx, "192.0.2.3", "admin", "the admin's password"); err != nil {
			t.Fatalf("another address beside a running check: %v", err)
		}
		// Both slots taken: everyone waits.
		other, ok := g.acquire(addressKey("192.0.2.4"))
		if !ok {
			t.Fatal("no second slot")
		}
		busy("192.0.2.5")
		busy("2001:db8::1")
		release()
		other()
		if n := failedLogins(t, db); n != 1 {
			t.Fatalf("%d failed logins audited: a refused login was checked", n)
		}
		// Nothing was counted for them either: 192.0.2.5 has all its attempts.
		for i := range 5 {
			if _, err := g.Login(ctx, "192.0.2.5", "admin", "guess"); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
				t.Fatalf("192.0.2.5's attempt %d: %v", i+1, err)
			}
		}
	})
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                   "192.0.2.1",
		"::ffff:192.0.2.1":            "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"not an address, from a test": "not an address, from a test",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
