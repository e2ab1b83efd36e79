package lti_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestReportGrade: a launch whose activity has a grade-book column gets the
// learner's completion posted there at the end, with a token the platform
// gives against the tool's signed assertion.
func TestReportGrade(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		f := newFixture(t, db, clock)
		keyPath := filepath.Join(t.TempDir(), lti.KeyFile)
		key, err := lti.LoadOrCreateKey(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := lti.LoadOrCreateKey(keyPath); err != nil || !again.Equal(key) {
			t.Fatalf("the key changed on reload: %v", err)
		}
		if info, _ := os.Stat(keyPath); info.Mode().Perm() != 0o600 {
			t.Fatalf("key mode %v", info.Mode().Perm())
		}
		f.tool.Key = key
		jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := f.tool.JWKS()
			if err != nil {
				t.Error(err)
			}
			w.Write(b)
		}))
		defer jwks.Close()
		f.plat.TrustTool(clientID, jwks.URL, clock.Now)

		// The platform lets wod post grades.
		p, err := db.FindLTIPlatform(ctx, issuer, clientID)
		if err != nil {
			t.Fatal(err)
		}
		db.DeleteLTIPlatform(ctx, p.ID)
		p.ID, p.TokenURL = 0, f.plat.TokenURL()
		if err := db.CreateLTIPlatform(ctx, p); err != nil {
			t.Fatal(err)
		}

		state, nonce := f.login("http://wod.test/lti/launch")
		c := ltitest.LaunchClaims(issuer, clientID, nonce, clock.Now())
		c[ltitest.GradeClaimName] = f.plat.GradeClaim()
		l, err := f.tool.Launch(ctx, f.plat.Sign(c), state)
		if err != nil || l.LineItem != f.plat.LineItem() {
			t.Fatalf("launch with a grade book: %+v %v", l, err)
		}
		_, w := fixtureWorkshop(t, db)
		r, err := db.CreateRegistration(ctx, &wod.NewRegistration{Request: wod.RegistrationRequest{Workshop: w, Name: "Ann", Email: l.Email}})
		if err != nil {
			t.Fatal(err)
		}
		if wants, err := f.tool.WantsGrade(ctx, r.ID); err != nil || wants {
			t.Fatalf("a registration not launched wants a grade: %v %v", wants, err)
		}
		if err := db.SaveLTILaunch(ctx, &wod.LTILaunch{RegistrationID: r.ID, PlatformID: l.Platform.ID, Subject: l.Subject, LineItem: l.LineItem}); err != nil {
			t.Fatal(err)
		}
		if wants, err := f.tool.WantsGrade(ctx, r.ID); err != nil || !wants {
			t.Fatalf("the launched registration wants no grade: %v %v", wants, err)
		}
		done := 60
		r.Completion = &done
		if err := f.tool.ReportGrade(ctx, r); err != nil {
			t.Fatalf("report: %v", err)
		}
		scores := f.plat.Scores()
		if len(scores) != 1 || scores[0]["userId"] != "learner-42" || scores[0]["scoreGiven"] != 60.0 ||
			scores[0]["scoreMaximum"] != 100.0 || scores[0]["gradingProgress"] != "FullyGraded" ||
			scores[0]["activityProgress"] != "Completed" {
			t.Fatalf("scores: %v", scores)
		}

		// A platform that no longer trusts the tool refuses, and says why.
		f.plat.TrustTool("someone-else", jwks.URL, clock.Now)
		if err := f.tool.ReportGrade(ctx, r); err == nil {
			t.Fatal("a refused token request reported a grade")
		}
	})
}

// fixtureWorkshop adds a location and an active workshop.
func fixtureWorkshop(t *testing.T, db *store.DB) (*wod.Location, string) {
	t.Helper()
	ctx := context.Background()
	l := &wod.Location{Name: "local", HubURL: "http://hub.test", Students: 3}
	if err := db.CreateLocation(ctx, l); err != nil {
		t.Fatal(err)
	}
	w := &wod.Workshop{Slug: "WKSHP-API101", Title: "APIs", Duration: wod.Duration(time.Hour), Capacity: 3, SeatMin: 1,
		SeatMax: 3, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
	if err := db.CreateWorkshop(ctx, w); err != nil {
		t.Fatal(err)
	}
	return l, w.Slug
}
