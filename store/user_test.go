package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestUsersTokensSessions(t *testing.T) {
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
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		var until time.Time
		for i := range 5 {
			u, err := db.RecordLoginFailure(ctx, "user:ada")
			if err != nil || !u.IsZero() {
				t.Fatalf("failure %d locked: %v %v", i, u, err)
			}
		}
		until, _ = db.RecordLoginFailure(ctx, "user:ada")
		if !until.Equal(clock.Now().Add(30 * time.Second)) {
			t.Fatalf("sixth failure locks until %v", until)
		}
		until, _ = db.RecordLoginFailure(ctx, "user:ada")
		if !until.Equal(clock.Now().Add(60 * time.Second)) {
			t.Fatalf("seventh failure locks until %v (the lock doubles)", until)
		}
		if got, _ := db.LoginLockedUntil(ctx, "user:ada"); !got.Equal(until) {
			t.Fatalf("locked until %v, want %v", got, until)
		}
		if got, _ := db.LoginLockedUntil(ctx, "user:bob"); !got.IsZero() {
			t.Fatalf("other key locked: %v", got)
		}
		clock.Advance(2 * time.Minute)
		if got, _ := db.LoginLockedUntil(ctx, "user:ada"); !got.IsZero() {
			t.Fatalf("still locked after the lock ran out: %v", got)
		}
		db.ClearLoginFailures(ctx, "user:ada")
		if u, _ := db.RecordLoginFailure(ctx, "user:ada"); !u.IsZero() {
			t.Fatalf("locked after clearing: %v", u)
		}
	})
}

func TestEventsAndAnnouncements(t *testing.T) {
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
