package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestUsersTokensSessions(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		admin := &wod.User{Username: "ada", Role: wod.RoleAdmin, PasswordHash: "$argon2id$x"}
		if err := db.CreateUser(ctx, admin); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, &wod.User{Username: "ada", Role: wod.RoleModerator, PasswordHash: "h"}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("duplicate user: %v", err)
		}
		if err := db.CreateUser(ctx, &wod.User{Username: "x y", Role: "root", PasswordHash: "h"}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad user: %v", err)
		}
		// The last admin can be neither demoted, disabled nor deleted.
		mod, yes := wod.RoleModerator, true
		if _, err := db.UpdateUser(ctx, admin.ID, wod.UserUpdate{Role: &mod}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("demote last admin: %v", err)
		}
		if _, err := db.UpdateUser(ctx, admin.ID, wod.UserUpdate{Disabled: &yes}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("disable last admin: %v", err)
		}
		if err := db.DeleteUser(ctx, admin.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("delete last admin: %v", err)
		}
		bob := &wod.User{Username: "bob", Role: wod.RoleModerator, PasswordHash: "h"}
		if err := db.CreateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindUserByName(ctx, "bob")
		if err != nil || got.ID != bob.ID || got.Role != wod.RoleModerator {
			t.Fatalf("find bob: %+v %v", got, err)
		}

		// Sessions end with their expiry, and when the user is disabled.
		if err := db.CreateSession(ctx, []byte("s1"), bob.ID, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if u, err := db.FindSessionUser(ctx, []byte("s1")); err != nil || u.ID != bob.ID {
			t.Fatalf("session: %v %v", u, err)
		}
		if _, err := db.FindSessionUser(ctx, []byte("nope")); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("unknown session: %v", err)
		}
		if _, err := db.UpdateUser(ctx, bob.ID, wod.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindSessionUser(ctx, []byte("s1")); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("session of a disabled user: %v", err)
		}
		db.CreateSession(ctx, []byte("s2"), admin.ID, t0.Add(time.Hour))
		clock.Advance(2 * time.Hour)
		if _, err := db.FindSessionUser(ctx, []byte("s2")); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("expired session: %v", err)
		}

		// Tokens: found by hash until revoked or expired.
		exp := clock.Now().Add(time.Hour)
		tok := &wod.Token{Name: "ci", Role: wod.RoleAdmin, Prefix: "wod_abcd", Hash: []byte("hash1"), ExpiresAt: &exp}
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindTokenByHash(ctx, []byte("hash1")); err != nil || got.ID != tok.ID || got.LastUsedAt == nil {
			t.Fatalf("token: %+v %v", got, err)
		}
		clock.Advance(2 * time.Hour)
		if _, err := db.FindTokenByHash(ctx, []byte("hash1")); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("expired token: %v", err)
		}
		if err := db.DeleteToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteToken(ctx, tok.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		ada := wod.LoginLimit{Key: "ada", Free: 5, FirstLock: 30 * time.Second, MaxLock: time.Hour, Window: 15 * time.Minute}
		for i := range 4 {
			if u, err := db.ReserveLoginAttempt(ctx, ada); err != nil || !u.IsZero() {
				t.Fatalf("attempt %d refused: %v %v", i+1, u, err)
			}
		}
		// The fifth attempt still runs, and locks the key behind it.
		if u, err := db.ReserveLoginAttempt(ctx, ada); err != nil || !u.IsZero() {
			t.Fatalf("fifth attempt refused: %v %v", u, err)
		}
		until, _ := db.ReserveLoginAttempt(ctx, ada)
		if !until.Equal(clock.Now().Add(30 * time.Second)) {
			t.Fatalf("sixth attempt: locked until %v, want 30 s", until)
		}
		// A refused attempt counts nothing: the lock does not grow.
		if again, _ := db.ReserveLoginAttempt(ctx, ada); !again.Equal(until) {
			t.Fatalf("a refused attempt moved the lock to %v", again)
		}
		clock.Advance(31 * time.Second)
		if u, _ := db.ReserveLoginAttempt(ctx, ada); !u.IsZero() {
			t.Fatalf("still locked after the lock ran out: %v", u)
		}
		if u, _ := db.ReserveLoginAttempt(ctx, ada); !u.Equal(clock.Now().Add(time.Minute)) {
			t.Fatalf("after the next failure: locked until %v, want twice as long", u)
		}
		// A locked key stops the others of the attempt, which count nothing.
		bob := ada
		bob.Key = "bob"
		if u, _ := db.ReserveLoginAttempt(ctx, bob, ada); u.IsZero() {
			t.Fatal("an attempt with a locked key went on")
		}
		for i := range 5 {
			if u, _ := db.ReserveLoginAttempt(ctx, bob); !u.IsZero() {
				t.Fatalf("bob's attempt %d refused: the refused attempt was counted", i+1)
			}
		}
		// A success clears; a key quiet for the window starts afresh.
		if err := db.ClearLoginFailures(ctx, "ada", "bob"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if u, _ := db.ReserveLoginAttempt(ctx, ada); !u.IsZero() {
				t.Fatalf("attempt %d after clearing refused", i+1)
			}
		}
		clock.Advance(30*time.Second + 16*time.Minute)
		if u, _ := db.ReserveLoginAttempt(ctx, ada); !u.IsZero() {
			t.Fatalf("locked after a quiet window: %v", u)
		}
	})
}

// TestLoginAttemptsAtOnce: attempts made at the same moment are counted
// before any of them is checked, so no more than the free ones get through.
func TestLoginAttemptsAtOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		limits := []wod.LoginLimit{
			{Key: "ip:192.0.2.7", Free: 20, FirstLock: 30 * time.Second, MaxLock: time.Hour, Window: 15 * time.Minute},
			{Key: "ip-user:192.0.2.7 admin", Free: 5, FirstLock: 30 * time.Second, MaxLock: time.Hour, Window: 15 * time.Minute},
		}
		var passed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				u, err := db.ReserveLoginAttempt(ctx, limits...)
				if err != nil {
					t.Error(err)
				}
				if u.IsZero() {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := passed.Load(); n != 5 {
			t.Fatalf("%d of 40 simultaneous attempts went on, want the 5 free ones", n)
		}
	})
}

func TestEventsAndAnnouncements(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		for i := range 3 {
			if err := db.RecordEvent(ctx, &wod.Event{Actor: "ada", Kind: "workshop.update", Subject: "workshop:A", Detail: string(rune('a' + i))}); err != nil {
				t.Fatal(err)
			}
		}
		db.RecordEvent(ctx, &wod.Event{Actor: "system", Kind: "login.failed", Subject: "user:bob"})
		kind := "workshop.update"
		es, n, err := db.FindEvents(ctx, wod.EventFilter{Kind: &kind, Page: wod.Page{Limit: 2}})
		if err != nil || n != 3 || len(es) != 2 || es[0].Detail != "c" || !es[0].At.Equal(t0) {
			t.Fatalf("events: %d %v %v", n, es, err)
		}
		later := t0.Add(time.Hour)
		if err := db.CreateAnnouncement(ctx, &wod.Announcement{Message: "Maintenance at noon", Level: "warning", StartsAt: &later}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateAnnouncement(ctx, &wod.Announcement{Message: "", Level: "loud"}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad announcement: %v", err)
		}
		now := clock.Now()
		if as, _ := db.FindAnnouncements(ctx, &now); len(as) != 0 {
			t.Fatalf("future announcement shown now")
		}
		now = now.Add(2 * time.Hour)
		as, _ := db.FindAnnouncements(ctx, &now)
		if len(as) != 1 || as[0].Message != "Maintenance at noon" {
			t.Fatalf("announcements: %v", as)
		}
		if err := db.DeleteAnnouncement(ctx, as[0].ID); err != nil {
			t.Fatal(err)
		}
	})
}
