package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/web"
)

func TestStatusPageAndEndNow(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		keys, _ := secret.LoadOrCreateKeys(t.TempDir())
		renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test"}, "")
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng := &engine.Engine{Store: db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: keys, Clock: clock,
			Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: time.Minute, RemindBefore: time.Hour,
			AgentLease: time.Minute, Worker: "test"}
		l := &wod.Location{Name: "local", HubURL: "http://hub.test", Students: 5}
		db.CreateLocation(ctx, l)
		db.CreateWorkshop(ctx, &wod.Workshop{Slug: "WKSHP-A", Title: "Workshop <A>", Duration: wod.Duration(time.Hour),
			Capacity: 5, SeatMin: 1, SeatMax: 5, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone,
			SessionType: wod.SessionWorkshop})
		pages := &web.Pages{Registrations: db, Workshops: db, Locations: db, Registrar: eng, Keys: keys, Clock: clock,
			Logger: logger, Brand: "Acme"}
		mux := http.NewServeMux()
		pages.Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string) (int, string) {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}

		r, err := eng.Register(ctx, wod.RegistrationRequest{Workshop: "WKSHP-A", Name: "Ann", Email: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		tok := keys.StatusToken(r.ID)
		code, page := get("/status/" + tok)
		if code != 200 || !strings.Contains(page, "being prepared") || !strings.Contains(page, "Workshop &lt;A&gt;") {
			t.Fatalf("pending page: %d %s", code, page)
		}
		job, _ := eng.ClaimJob(ctx, l.ID, "agent", 0)
		eng.ReportJob(ctx, l.ID, job.ID, "agent", wod.AgentResult{Attempt: job.Attempt, OK: true, Password: "Pw-On-Page-7"})
		code, page = get("/status/" + tok)
		if code != 200 || !strings.Contains(page, "Pw-On-Page-7") || !strings.Contains(page, "student1") ||
			!strings.Contains(page, "http://hub.test/hub/login") || !strings.Contains(page, "/status/"+tok+"/end") {
			t.Fatalf("ready page: %d %s", code, page)
		}
		if code, _ := get("/status/" + r.Username + ".forged"); code != 404 {
			t.Fatalf("forged link: %d", code)
		}
		// The link in the mail shows a confirmation; only the POST ends.
		if code, page := get("/status/" + tok + "/end"); code != 200 || !strings.Contains(page, "method=\"post\"") {
			t.Fatalf("confirmation: %d %s", code, page)
		}
		if got, _ := db.FindRegistration(ctx, r.ID); got.State != wod.StateReady {
			t.Fatalf("a GET ended the session: %s", got.State)
		}
		res, err := noRedirect.PostForm(srv.URL+"/status/"+tok+"/end", url.Values{})
		if err != nil || res.StatusCode != http.StatusSeeOther {
			t.Fatalf("end: %v %v", res.StatusCode, err)
		}
		if got, _ := db.FindRegistration(ctx, r.ID); got.State != wod.StateEnding {
			t.Fatalf("after end: %s", got.State)
		}
		if _, page := get("/status/" + tok); strings.Contains(page, "Pw-On-Page-7") || strings.Contains(page, "End my session") {
			t.Fatalf("ending page still shows credentials or the end button: %s", page)
		}
	})
}
