package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
)

// renderResult is the content benchmark.
type renderResult struct {
	Notebooks   int     `json:"notebooks"`
	Files       int     `json:"files"`
	Iterations  int     `json:"iterations"`
	DeployP50Ms float64 `json:"render_and_deploy_p50_ms"`
	DeployP99Ms float64 `json:"render_and_deploy_p99_ms"`
	SampleP50Ms float64 `json:"sample_workshop_p50_ms"`
	SampleNbs   int     `json:"sample_notebooks"`
}

// benchRender times rendering and deploying a 10-notebook workshop (the
// sample's notebooks, copied five times) for one student.
func benchRender(iterations int) (*renderResult, error) {
	tmp, err := os.MkdirTemp("", "wod-bench-render")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := content.ExtractSample(tmp); err != nil {
		return nil, err
	}
	sample := filepath.Join(tmp, "WKSHP-Welcome101")
	big := filepath.Join(tmp, "WKSHP-Ten")
	if err := os.CopyFS(big, os.DirFS(sample)); err != nil {
		return nil, err
	}
	nbs, _ := fs.Glob(os.DirFS(sample), "*.ipynb")
	for i := 2; len(nbs)*i <= 10; i++ {
		for _, nb := range nbs {
			b, err := os.ReadFile(filepath.Join(sample, nb))
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("%d-%s", i, strings.TrimPrefix(nb, nb[:2]))
			if err := os.WriteFile(filepath.Join(big, name), b, 0o644); err != nil {
				return nil, err
			}
		}
	}
	r := content.NewRenderer()
	res := &renderResult{Iterations: iterations, Notebooks: len(content.Notebooks(os.DirFS(big))),
		SampleNbs: len(content.Notebooks(os.DirFS(sample)))}
	time1 := func(src string) ([]time.Duration, int, error) {
		var ds []time.Duration
		files := 0
		for i := range iterations {
			vars, err := content.BuildVars(nil, nil, content.Student{Number: 7, Password: "Bench-Pass-1",
				Session: wod.SessionWorkshop, Workshop: filepath.Base(src), SeatMin: 1})
			if err != nil {
				return nil, 0, err
			}
			dst := filepath.Join(tmp, "home", fmt.Sprint(i))
			start := time.Now()
			written, err := r.Deploy(os.DirFS(src), dst, vars)
			if err != nil {
				return nil, 0, err
			}
			ds = append(ds, time.Since(start))
			files = len(written)
			os.RemoveAll(dst)
		}
		slices.Sort(ds)
		return ds, files, nil
	}
	ds, files, err := time1(big)
	if err != nil {
		return nil, err
	}
	res.Files = files
	res.DeployP50Ms, res.DeployP99Ms = ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100])
	ds, _, err = time1(sample)
	if err != nil {
		return nil, err
	}
	res.SampleP50Ms = ms(ds[len(ds)/2])
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// provisionResult is the real-hub benchmark.
type provisionResult struct {
	Simultaneous int     `json:"simultaneous"`
	ReadyP50Ms   float64 `json:"registration_to_ready_p50_ms"`
	ReadyP99Ms   float64 `json:"registration_to_ready_p99_ms"`
	AllReadyMs   float64 `json:"all_ready_ms"`
	PreStart     bool    `json:"prestart"`
	// Warm is the workshop's warm pool, full (servers running) before the
	// burst; WarmFilledMs is how long it took to fill.
	Warm         int     `json:"warm,omitempty"`
	WarmFilledMs float64 `json:"warm_filled_ms,omitempty"`
	// WarmStarted counts the warm seats whose server the agent could not
	// start (the spawn failed under load: the seat is warm, its server
	// would start at the login) and the bench started before the burst.
	WarmStarted int `json:"warm_servers_started_by_bench,omitempty"`
	// ServersUpMs is when every student's server ran (pre-start only).
	ServersUpMs float64 `json:"all_servers_running_ms,omitempty"`
}

// hubOptions are the hub benchmark's settings.
type hubOptions struct {
	Counts   []int // registrations booked at once, per round
	PreStart bool
	// Warm is the workshop's warm pool: before each round the bench waits
	// until that many seats are warm with their servers running.
	Warm int
	// FirstSeat and UIDBase place the accounts (uid = UIDBase + seat), clear
	// of a wod up or of other benches on the same machine.
	FirstSeat, UIDBase int
}

// benchProvision books n registrations at once on a real, managed
// JupyterHub with real accounts, and measures registration-to-ready: from
// the call that books to the credentials committed (for a warm seat, the
// booking's own transaction).
func benchProvision(ctx context.Context, o hubOptions) ([]provisionResult, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the provisioning benchmark creates Unix accounts and runs JupyterHub: run it as root")
	}
	tmp, err := os.MkdirTemp("", "wod-bench-hub")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	first, counts, prestart := o.FirstSeat, o.Counts, o.PreStart
	maxN := slices.Max(counts)
	// The pool never takes the range's last free seat (wod.WarmTarget), so
	// a pool of Warm needs Warm+1 seats.
	seats := max(maxN, o.Warm+1)
	contentDir := filepath.Join(tmp, "content")
	if err := content.ExtractSample(contentDir); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(tmp, "wod.db"), nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	keys, err := secret.LoadOrCreateKeys(filepath.Join(tmp, "keys"))
	if err != nil {
		return nil, err
	}
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Bench", From: "wod@bench.test"}, "")
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := &engine.Engine{Store: db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: keys,
		Clock: wod.SystemClock{}, Logger: logger, PublicURL: "http://bench.test", ProvisionTimeout: 10 * time.Minute,
		RemindBefore: time.Hour, AgentLease: 5 * time.Minute, Worker: "bench"}
	loc := &wod.Location{Name: "bench", HubURL: "http://127.0.0.1", Students: first + seats}
	if err := db.CreateLocation(ctx, loc); err != nil {
		return nil, err
	}
	w := &wod.Workshop{Slug: "WKSHP-Welcome101", Title: "Bench", Duration: wod.Duration(4 * time.Hour), Capacity: max(maxN, o.Warm),
		SeatMin: first, SeatMax: first + seats - 1, Warm: wod.WarmPool(o.Warm), LocationID: loc.ID, Active: true, Appliance: wod.ApplianceNone,
		SessionType: wod.SessionWorkshop, ContentDir: contentDir}
	if err := db.CreateWorkshop(ctx, w); err != nil {
		return nil, err
	}
	hubAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hub := &jupyterhub.Managed{Dir: filepath.Join(tmp, "hub"), Bind: hubAddr, Logger: logger}
	client, err := hub.Start(ctx)
	if err != nil {
		return nil, err
	}
	hubCtx, stopHub := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { hub.Run(hubCtx) })
	host := &agent.Host{Root: filepath.Join(tmp, "student"), UIDBase: o.UIDBase, GIDBase: o.UIDBase}
	defer func() {
		stopHub()
		wg.Wait()
		for n := first; n < first+seats; n++ {
			host.RemoveAccount(context.Background(), n)
		}
	}()
	runner := &agent.Runner{Server: &agent.Local{Service: eng, LocationID: loc.ID, Name: "bench"}, Logger: logger,
		Workers: 16, Operator: &agent.HubOperator{Host: host, Hub: client, PreStart: prestart, WarmServer: true,
			Workshops: &agent.ContentWorkshops{Dirs: []string{contentDir}, Renderer: content.NewRenderer()},
			Hooks:     &agent.Hooks{Dirs: []string{contentDir}}, StateDir: filepath.Join(tmp, "agent"), Logger: logger}}
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	wg.Go(func() { runner.Run(agentCtx) })
	if o.Warm > 0 {
		// The engine's pool keeper, as its Run loop runs it.
		wg.Go(func() {
			for agentCtx.Err() == nil {
				if _, err := eng.KeepWarm(agentCtx); err != nil && agentCtx.Err() == nil {
					fmt.Fprintln(os.Stderr, "wod-bench: warm pools:", err)
				}
				select {
				case <-agentCtx.Done():
				case <-time.After(engine.DefaultWarmEvery):
				}
			}
		})
	}

	var out []provisionResult
	round := 0
	for _, n := range counts {
		round++
		var filled time.Duration
		warmStarted := 0
		if o.Warm > 0 {
			if err := setWarm(ctx, db, w.Slug, o.Warm); err != nil {
				return nil, err
			}
			t0 := time.Now()
			if warmStarted, err = waitWarmPool(ctx, db, client, o.Warm); err != nil {
				return nil, err
			}
			filled = time.Since(t0)
		}
		start := time.Now()
		ids := make([]int64, n)
		called := make([]time.Time, n)
		var rwg sync.WaitGroup
		var regErr error
		var mu sync.Mutex
		for i := range n {
			rwg.Go(func() {
				called[i] = time.Now()
				r, err := eng.Register(ctx, wod.RegistrationRequest{Workshop: w.Slug, Name: "Bench",
					Email: fmt.Sprintf("r%d-%d@bench.example.com", round, i)})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					regErr = err
					return
				}
				ids[i] = r.ID
			})
		}
		rwg.Wait()
		if regErr != nil {
			return nil, regErr
		}
		var lat []time.Duration
		for i, id := range ids {
			for {
				r, err := db.FindRegistration(ctx, id)
				if err != nil {
					return nil, err
				}
				if r.State == wod.StateReady {
					lat = append(lat, r.ReadyAt.Sub(called[i]))
					break
				}
				if r.State == wod.StateFailed || time.Since(start) > 10*time.Minute {
					return nil, fmt.Errorf("registration %d is %s: %s", id, r.State, r.Error)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		all := time.Since(start)
		slices.Sort(lat)
		res := provisionResult{Simultaneous: n, ReadyP50Ms: ms(lat[len(lat)/2]),
			ReadyP99Ms: ms(lat[len(lat)*99/100]), AllReadyMs: ms(all), PreStart: prestart,
			Warm: o.Warm, WarmFilledMs: ms(filled), WarmStarted: warmStarted}
		if prestart {
			for _, id := range ids {
				r, _ := db.FindRegistration(ctx, id)
				for {
					u, err := client.User(ctx, r.Username)
					if err == nil && u.Servers[""].Ready {
						break
					}
					if time.Since(start) > 10*time.Minute {
						return nil, fmt.Errorf("the server of %s never ran", r.Username)
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			res.ServersUpMs = ms(time.Since(start))
		}
		out = append(out, res)
		// The pool is made anew for the next round, from no warm seat: it
		// does not refill beside the purges.
		if o.Warm > 0 {
			if err := setWarm(ctx, db, w.Slug, 0); err != nil {
				return nil, err
			}
		}
		// Free the seats for the next round.
		for _, id := range ids {
			if _, err := eng.Purge(ctx, id, "bench"); err != nil {
				return nil, err
			}
		}
		// Until every seat is free or warm (a warm seat the pool gives
		// back is freed at the keeper's next turn).
		for {
			left := 0
			for _, st := range []wod.SeatState{wod.SeatAssigned, wod.SeatDirty} {
				_, n, err := db.FindSeats(ctx, wod.SeatFilter{LocationID: &loc.ID, State: &st, Page: wod.Page{Limit: 1}})
				if err != nil {
					return nil, err
				}
				left += n
			}
			if left == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return out, nil
}

// waitWarmPool waits until n seats are warm and the hub runs their
// servers. A warm seat whose server is neither running nor starting (the
// agent's spawn failed, and the hub would start it at the login) is
// started here, so that the burst meets a pool whose servers all run; it
// returns how many it started.
func waitWarmPool(ctx context.Context, db *store.DB, hub *jupyterhub.Client, n int) (started int, err error) {
	warm := wod.SeatWarm
	deadline := time.Now().Add(30 * time.Minute)
	for {
		seats, _, err := db.FindSeats(ctx, wod.SeatFilter{State: &warm, Page: wod.Page{Limit: wod.MaxLimit}})
		if err != nil {
			return started, err
		}
		running := 0
		var idle []string
		for _, s := range seats {
			u, err := hub.User(ctx, s.Username)
			if err != nil {
				continue
			}
			if srv, ok := u.Servers[""]; ok && srv.Ready {
				running++
			} else if !ok && u.Pending == "" {
				idle = append(idle, s.Username)
			}
		}
		if running >= n {
			return started, nil
		}
		if len(seats) >= n {
			for _, name := range idle {
				fmt.Fprintf(os.Stderr, "wod-bench: the warm seat %s has no server: starting it\n", name)
				if err := hub.StartServer(ctx, name); err != nil {
					fmt.Fprintf(os.Stderr, "wod-bench: starting %s: %v\n", name, err)
				}
				started++
			}
		}
		if time.Now().After(deadline) {
			return started, fmt.Errorf("the warm pool has %d of %d seats with a running server after 30 minutes", running, n)
		}
		time.Sleep(time.Second)
	}
}

func setWarm(ctx context.Context, db *store.DB, slug string, n int) error {
	p := wod.WarmPool(n)
	_, err := db.UpdateWorkshop(ctx, slug, wod.WorkshopUpdate{Warm: &p})
	return err
}
