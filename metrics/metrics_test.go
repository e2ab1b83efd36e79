package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/metrics"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

var _ engine.Observer = (*metrics.Metrics)(nil)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// has fails unless every line is in the exposition, whole.
func has(t *testing.T, text string, lines ...string) {
	t.Helper()
	got := "\n" + text
	for _, l := range lines {
		if !strings.Contains(got, "\n"+l+"\n") {
			t.Errorf("no line %q in:\n%s", l, text)
		}
	}
}

func TestMetrics(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		m := metrics.New(db, clock, "1.2.3", logger)

		l := &wod.Location{Name: "local", HubURL: "http://hub.test", Students: 4}
		if err := db.CreateLocation(ctx, l); err != nil {
			t.Fatal(err)
		}
		w := &wod.Workshop{Slug: "WKSHP-A", Title: "A", Duration: wod.Duration(time.Hour), Capacity: 3, SeatMin: 1,
			SeatMax: 3, LocationID: l.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
		if err := db.CreateWorkshop(ctx, w); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateRegistration(ctx, &wod.NewRegistration{
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Ann", Email: "ann@example.com"},
			Jobs:    []*wod.Job{{Kind: wod.JobCreate, RunAt: clock.Now()}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Heartbeat(ctx, l.ID, "", nil, clock.Now()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(42 * time.Second)

		m.Registered(nil)
		m.Registered(wod.Errorf(wod.EFULL, "full"))
		m.Registered(errors.New("disk on fire"))
		m.TimerFired(wod.JobExpire, 30*time.Millisecond)
		m.JobReported(wod.JobCreate, true, 3*time.Second)
		m.JobReported(wod.JobCreate, false, 0)
		m.MailFinished(wod.MailCredentials, wod.MailSent)
		m.Rehearsed(wod.RehearsalFailed, 2)
		m.Rehearsed(wod.RehearsalPassed, 0)

		text := scrape(t, m.Handler())
		has(t, text,
			`wod_build_info{version="1.2.3"} 1`,
			`wod_registrations{state="pending"} 1`,
			`wod_registrations{state="failed"} 0`,
			`wod_seats{location="local",state="assigned"} 1`,
			`wod_seats{location="local",state="free"} 3`,
			`wod_workshop_seats_free{location="local",workshop="WKSHP-A"} 2`,
			`wod_workshop_seats_taken{location="local",workshop="WKSHP-A"} 1`,
			`wod_jobs{kind="create",state="queued"} 1`,
			`wod_job_backlog_seconds 42`,
			`wod_mail_backlog_seconds 0`,
			`wod_agent_heartbeat_age_seconds{location="local"} 42`,
			`wod_registration_requests_total{outcome="booked"} 1`,
			`wod_registration_requests_total{outcome="full"} 1`,
			`wod_registration_requests_total{outcome="internal"} 1`,
			`wod_timer_lateness_seconds_count{kind="expire"} 1`,
			`wod_agent_jobs_total{kind="create",result="ok"} 1`,
			`wod_agent_jobs_total{kind="create",result="failed"} 1`,
			`wod_agent_job_duration_seconds_sum{kind="create"} 3`,
			`wod_mail_deliveries_total{kind="credentials",state="sent"} 1`,
			`wod_rehearsals_total{outcome="failed"} 1`,
			`wod_rehearsals_total{outcome="passed"} 1`,
			`wod_rehearsal_cell_failures_total 2`,
		)
		if !strings.Contains(text, "go_goroutines ") || !strings.Contains(text, "process_resident_memory_bytes ") {
			t.Errorf("no runtime or process metrics")
		}

		// A database that fails fails its gauges, not the scrape.
		db.Close()
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `wod_registration_requests_total{outcome="booked"} 1`) ||
			strings.Contains(rec.Body.String(), "wod_registrations{") {
			t.Fatalf("scrape with the database closed: %d\n%s", rec.Code, rec.Body)
		}
	})
}

// TestInstrument labels requests by route pattern, never by path.
func TestInstrument(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := storetest.NewClock(storetest.T0)
	db := storetest.Open(t, store.SQLite, clock)
	m := metrics.New(db, clock, "test", logger)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status/{token}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// What httpapi.Server.Handler does: the mux records its pattern.
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(r.Context()) // a middleware's copy of the request
		mux.ServeHTTP(w, r)
		httpapi.RecordRoute(r)
	})
	h := m.Instrument(routed, httpapi.WithRoute)
	for _, p := range []string{"/status/secret-token-1", "/status/secret-token-2", "/ok", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	text := scrape(t, m.Handler())
	has(t, text,
		`wod_http_requests_total{code="418",route="GET /status/{token}"} 2`,
		`wod_http_requests_total{code="200",route="GET /ok"} 1`,
		`wod_http_requests_total{code="404",route="unmatched"} 1`,
		`wod_http_request_duration_seconds_count{route="GET /ok"} 1`,
	)
	if strings.Contains(text, "secret-token") {
		t.Fatal("a path reached the metrics")
	}
}

var _ engine.WarmObserver = (*metrics.Metrics)(nil)
