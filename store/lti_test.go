package store_test

import (
	"context"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestLTIPlatforms(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		moodle := &wod.LTIPlatform{Name: "moodle", Issuer: "https://lms.example", ClientID: "a",
			DeploymentIDs: []string{"1", "2"}, AuthURL: "https://lms.example/auth", JWKSURL: "https://lms.example/jwks"}
		if err := db.CreateLTIPlatform(ctx, moodle); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindLTIPlatform(ctx, "https://lms.example", "")
		if err != nil || got.ID != moodle.ID || len(got.DeploymentIDs) != 2 || !got.AcceptsDeployment("2") || got.AcceptsDeployment("3") {
			t.Fatalf("find by issuer: %+v %v", got, err)
		}
		same := *moodle
		same.Name = "moodle-again"
		if err := db.CreateLTIPlatform(ctx, &same); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("same issuer and client: %v", err)
		}
		second := &wod.LTIPlatform{Name: "moodle-b", Issuer: "https://lms.example", ClientID: "b",
			AuthURL: "https://lms.example/auth", JWKSURL: "https://lms.example/jwks"}
		if err := db.CreateLTIPlatform(ctx, second); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindLTIPlatform(ctx, "https://lms.example", ""); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("ambiguous issuer: %v", err)
		}
		if got, err := db.FindLTIPlatform(ctx, "https://lms.example", "b"); err != nil || got.ID != second.ID || !got.AcceptsDeployment("any") {
			t.Fatalf("find by client: %+v %v", got, err)
		}
		bad := &wod.LTIPlatform{Name: "Bad Name", Issuer: "", ClientID: "c", AuthURL: "ftp://x", JWKSURL: "https://x/jwks"}
		if err := db.CreateLTIPlatform(ctx, bad); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("invalid platform: %v", err)
		}
		if err := db.DeleteLTIPlatform(ctx, second.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteLTIPlatform(ctx, second.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("delete again: %v", err)
		}
		ps, err := db.FindLTIPlatforms(ctx)
		if err != nil || len(ps) != 1 || ps[0].Name != "moodle" {
			t.Fatalf("list: %v %v", ps, err)
		}
	})
}

// A launched registration and its grade book are one transaction: a crash
// can leave neither without the other. A later launch replaces the book.
func TestLTILaunchWithRegistration(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 5, 1, 5, 5)
		p := &wod.LTIPlatform{Name: "moodle", Issuer: "https://lms.example", ClientID: "a",
			AuthURL: "https://lms.example/auth", JWKSURL: "https://lms.example/jwks"}
		if err := db.CreateLTIPlatform(ctx, p); err != nil {
			t.Fatal(err)
		}
		r, err := db.CreateRegistration(ctx, &wod.NewRegistration{Request: wod.RegistrationRequest{
			Workshop: w.Slug, Name: "Ann", Email: "ann@example.org",
			Launch: &wod.LTILaunch{PlatformID: p.ID, Subject: "u-1", LineItem: "https://lms.example/li/1"}}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.FindLTILaunch(ctx, r.ID)
		want := wod.LTILaunch{RegistrationID: r.ID, PlatformID: p.ID, Subject: "u-1", LineItem: "https://lms.example/li/1"}
		if err != nil || *got != want {
			t.Fatalf("launch after registering: %+v, %v; want %+v", got, err, want)
		}
		want.LineItem = "https://lms.example/li/2"
		if err := db.SaveLTILaunch(ctx, &want); err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindLTILaunch(ctx, r.ID); err != nil || *got != want {
			t.Fatalf("launch replaced: %+v, %v", got, err)
		}

		// A refused registration (already registered) records no book.
		_, err = db.CreateRegistration(ctx, &wod.NewRegistration{Request: wod.RegistrationRequest{
			Workshop: w.Slug, Name: "Ann", Email: "ann@example.org",
			Launch: &wod.LTILaunch{PlatformID: p.ID, Subject: "u-1", LineItem: "https://lms.example/li/3"}}})
		if wod.ErrorCode(err) != wod.EALREADYREGISTERED {
			t.Fatalf("second registration: %v", err)
		}
		if got, err := db.FindLTILaunch(ctx, r.ID); err != nil || *got != want {
			t.Fatalf("launch after a refused registration: %+v, %v", got, err)
		}
		// A grade book naming no platform fails the whole registration.
		_, err = db.CreateRegistration(ctx, &wod.NewRegistration{Request: wod.RegistrationRequest{
			Workshop: w.Slug, Name: "Bob", Email: "bob@example.org",
			Launch: &wod.LTILaunch{PlatformID: p.ID + 100, Subject: "u-2", LineItem: "https://lms.example/li/1"}}})
		if err == nil {
			t.Fatal("registered with a grade book of an unknown platform")
		}
		email := "bob@example.org"
		if regs, _, err := db.FindRegistrations(ctx, wod.RegistrationFilter{Email: &email}); err != nil || len(regs) != 0 {
			t.Fatalf("half a registration left: %v, %v", regs, err)
		}
	})
}

// A launch finds the learner's live registration by platform and sub, never
// by e-mail: a registration of the same address made on the portal, by
// another learner or from another platform is not theirs; an ended one is
// found no more.
func TestFindLTIRegistration(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 5, 1, 5, 5)
		var ps []*wod.LTIPlatform
		for _, name := range []string{"moodle", "canvas"} {
			p := &wod.LTIPlatform{Name: name, Issuer: "https://" + name + ".example", ClientID: "a",
				AuthURL: "https://lms.example/auth", JWKSURL: "https://lms.example/jwks"}
			if err := db.CreateLTIPlatform(ctx, p); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		portal, err := register(db, w.Slug, "victim@example.org")
		if err != nil {
			t.Fatal(err)
		}
		launched, err := db.CreateRegistration(ctx, &wod.NewRegistration{Request: wod.RegistrationRequest{
			Workshop: w.Slug, Name: "Ann", Email: "ann@example.org",
			Launch: &wod.LTILaunch{PlatformID: ps[0].ID, Subject: "u-1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindLTIRegistration(ctx, ps[0].ID, "u-1"); err != nil || got.ID != launched.ID || got.Email != "ann@example.org" {
			t.Fatalf("the learner's registration: %+v %v", got, err)
		}
		if book, err := db.FindLTILaunch(ctx, launched.ID); err != nil || book.LineItem != "" || book.Subject != "u-1" {
			t.Fatalf("a launch without a grade book: %+v %v", book, err)
		}
		for _, c := range []struct {
			platform int64
			subject  string
		}{{ps[0].ID, "u-2"}, {ps[1].ID, "u-1"}, {ps[0].ID, ""}, {ps[0].ID, "victim@example.org"}} {
			if got, err := db.FindLTIRegistration(ctx, c.platform, c.subject); wod.ErrorCode(err) != wod.ENOTFOUND {
				t.Fatalf("platform %d, sub %q: %+v %v; want ENOTFOUND (portal registration %d)", c.platform, c.subject, got, err, portal.ID)
			}
		}
		if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: launched.ID, From: []wod.RegistrationState{wod.StatePending},
			To: wod.StateFailed, Seat: new(wod.SeatFree)}); err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindLTIRegistration(ctx, ps[0].ID, "u-1"); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("an ended registration: %+v %v", got, err)
		}
	})
}
