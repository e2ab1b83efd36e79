package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/secret"
)

// pagesResult is the web UI benchmark: server-side time to answer each main
// page with many registrations in the database.
type pagesResult struct {
	Database      string       `json:"database"`
	GoVersion     string       `json:"go"`
	CPUs          int          `json:"cpus"`
	Registrations int          `json:"registrations"`
	Mails         int          `json:"mails"`
	SeedSeconds   float64      `json:"seed_seconds"`
	Iterations    int          `json:"iterations"`
	Pages         []pageTiming `json:"pages"`
}

type pageTiming struct {
	Page   string  `json:"page"`
	Status int     `json:"status"`
	Bytes  int     `json:"bytes"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// benchPages builds the real server (app.Build: API, pages, engine) on a
// database holding n registrations in every state, then times each page
// through the HTTP handler, without the network.
func benchPages(ctx context.Context, dsn string, n, iterations int, cpuprofile string) (*pagesResult, error) {
	// A database named with -db may be timed again without seeding; its
	// keys must then survive the run, so they live beside it.
	data := filepath.Join(os.TempDir(), "wod-bench-pages-keys")
	if dsn == "" {
		var err error
		if data, err = os.MkdirTemp("", "wod-bench-pages"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(data)
	} else if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	cfg := &config.Config{}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	cfg.Register(fs)
	args := []string{"--data", data, "--registration-rate", "0", "--public-url", "http://bench.test"}
	if dsn != "" {
		args = append(args, "--db", dsn)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := cfg.Resolve(fs, func(string) string { return "" }); err != nil {
		return nil, err
	}
	a := &app.App{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stderr: io.Discard}
	if err := a.Open(ctx); err != nil {
		return nil, err
	}
	defer a.Close()
	if err := a.OpenKeys(); err != nil {
		return nil, err
	}
	if err := a.Build(); err != nil {
		return nil, err
	}
	res := &pagesResult{Database: string(a.DB.Dialect()), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Registrations: n, Iterations: iterations}
	start := time.Now()
	live, err := seedRegistrations(ctx, a, n)
	if err != nil {
		return nil, err
	}
	res.SeedSeconds = time.Since(start).Seconds()
	if _, res.Mails, err = a.DB.FindMails(ctx, wod.MailFilter{Page: wod.Page{Limit: 1}}); err != nil {
		return nil, err
	}

	// An operator's session, as the login form would create it.
	admin, err := a.DB.FindUserByName(ctx, "bench")
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		admin = &wod.User{Username: "bench", Email: "bench@bench.test", Role: wod.RoleAdmin, PasswordHash: "unused"}
		err = a.DB.CreateUser(ctx, admin)
	}
	if err != nil {
		return nil, err
	}
	session, _, hash := secret.NewToken()
	if err := a.DB.CreateSession(ctx, hash, admin.ID, time.Now().Add(time.Hour)); err != nil {
		return nil, err
	}
	pages := []string{
		"/",
		"/workshops/WKSHP-Bench03",
		"/status/" + a.Keys.StatusToken(live.ID),
		"/status/" + a.Keys.StatusToken(live.ID) + "/live",
		"/admin",
		"/admin/workshops",
		"/admin/registrations",
		"/admin/registrations?state=done&workshop=WKSHP-Bench05",
		"/admin/registrations?q=p4242%40bench.example.com",
		fmt.Sprintf("/admin/registrations/%d", live.ID),
		"/admin/mails",
		"/admin/stats?days=30",
		"/admin/stats.csv",
		"/admin/users",
		"/admin/announcements",
		"/admin/lti",
		"/metrics",
	}
	h := a.Handler()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	for _, page := range pages {
		t := pageTiming{Page: page}
		var ds []time.Duration
		for i := range iterations + 5 {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, page, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.AddCookie(&http.Cookie{Name: "wod_session", Value: session})
			rec := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(rec, req)
			d := time.Since(t0)
			t.Status, t.Bytes = rec.Code, rec.Body.Len()
			if i >= 5 { // the first few warm caches up
				ds = append(ds, d)
			}
		}
		slices.Sort(ds)
		t.P50Ms, t.P99Ms, t.MaxMs = ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1])
		res.Pages = append(res.Pages, t)
	}
	return res, nil
}

// seedRegistrations books n registrations over ten workshops through the
// engine and drives them through their lives as an agent would: most end
// done with a completion, some fail, the last ones stay live. It returns a
// live one.
func seedRegistrations(ctx context.Context, a *app.App, n int) (*wod.Registration, error) {
	if _, err := a.DB.FindLocation(ctx, "bench"); err == nil {
		// Seeded by an earlier run on this database (-db): time the pages
		// again without booking another n.
		ready := wod.StateReady
		rs, _, err := a.DB.FindRegistrations(ctx, wod.RegistrationFilter{State: &ready, Page: wod.Page{Limit: 1}})
		if err != nil || len(rs) == 0 {
			return nil, fmt.Errorf("the database was seeded before but holds no live registration (%v)", err)
		}
		return rs[0], nil
	}
	loc := &wod.Location{Name: "bench", HubURL: "http://hub.bench.test", Students: 1000}
	if err := a.DB.CreateLocation(ctx, loc); err != nil {
		return nil, err
	}
	const workshops = 10
	for i := range workshops {
		w := &wod.Workshop{Slug: fmt.Sprintf("WKSHP-Bench%02d", i), Title: fmt.Sprintf("Bench workshop %d", i),
			Description: "A workshop of the page benchmark, with a description of a realistic length for a card.",
			Categories:  []string{[]string{"API", "Python", "Infrastructure"}[i%3]}, Duration: wod.Duration(2 * time.Hour),
			Capacity: 100, SeatMin: i*100 + 1, SeatMax: i*100 + 100, LocationID: loc.ID, Active: true,
			Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop, Presenter: "Bench Presenter"}
		if err := a.DB.CreateWorkshop(ctx, w); err != nil {
			return nil, err
		}
	}
	eng := a.Engine
	agentName := "agent@bench"
	// run claims the location's next job of the kind and reports it.
	run := func(kind wod.JobKind, res wod.AgentResult) error {
		j, err := eng.ClaimJob(ctx, loc.ID, agentName, time.Second)
		if err != nil {
			return err
		}
		if j == nil || j.Kind != kind {
			return fmt.Errorf("claimed %+v, want a %s job", j, kind)
		}
		res.Attempt = j.Attempt
		return eng.ReportJob(ctx, loc.ID, j.ID, agentName, res)
	}
	// One life at a time: each claim then finds exactly the job it expects.
	var live *wod.Registration
	for i := 1; i <= n; i++ {
		r, err := eng.Register(ctx, wod.RegistrationRequest{Workshop: fmt.Sprintf("WKSHP-Bench%02d", i%workshops),
			Name: fmt.Sprintf("Participant %d", i), Email: fmt.Sprintf("p%d@bench.example.com", i), Company: "Bench Corp"})
		if err == nil {
			err = lifeOf(ctx, eng, r, i, n, run)
		}
		if err != nil {
			return nil, fmt.Errorf("registration %d: %w", i, err)
		}
		if i > n-50 && i%50 != 0 {
			live = r
		}
	}
	return live, nil
}

// lifeOf takes registration i of n to its end state: the last 50 stay
// live, one in fifty fails, the others finish with a completion.
func lifeOf(ctx context.Context, eng wod.Registrar, r *wod.Registration, i, n int,
	run func(wod.JobKind, wod.AgentResult) error) error {
	if i%50 == 0 {
		if _, err := eng.Purge(ctx, r.ID, "bench"); err != nil {
			return err
		}
		return run(wod.JobPurge, wod.AgentResult{OK: true})
	}
	if err := run(wod.JobCreate, wod.AgentResult{OK: true, Password: "Bench-Pass-1"}); err != nil {
		return err
	}
	if i > n-50 {
		return nil
	}
	if _, err := eng.EndNow(ctx, r.ID, "bench"); err != nil {
		return err
	}
	c := (i * 37) % 101
	return run(wod.JobCleanup, wod.AgentResult{OK: true, Completion: &c})
}
