// Command wod-bench measures the control plane and prints JSON: how many
// registrations per second the engine accepts, how late timers fire under
// load, and how much memory each live registration costs the server.
//
//	go run ./cmd/wod-bench                       # SQLite in a temporary directory
//	go run ./cmd/wod-bench -db postgres://postgres@127.0.0.1/wodbench
//
// The PostgreSQL database must exist and be empty (it is migrated).
//
//	go run ./cmd/wod-bench -mode locations -db postgres://postgres@127.0.0.1/postgres
//
// runs a crowd through two server replicas and simulated agents; it creates
// its own database on that server and drops it after.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
)

type result struct {
	Database             string  `json:"database"`
	GoVersion            string  `json:"go"`
	CPUs                 int     `json:"cpus"`
	Registrations        int     `json:"registrations"`
	Concurrency          int     `json:"concurrency"`
	RegistrationsPerSec  float64 `json:"registrations_per_second"`
	Timers               int     `json:"timers"`
	TimerLatenessP50Ms   float64 `json:"timer_lateness_p50_ms"`
	TimerLatenessP99Ms   float64 `json:"timer_lateness_p99_ms"`
	TimerLatenessMaxMs   float64 `json:"timer_lateness_max_ms"`
	LiveRegistrations    int     `json:"live_registrations"`
	HeapBytesPerLiveReg  float64 `json:"heap_bytes_per_live_registration"`
	HeapBytesTotalGrowth int64   `json:"heap_bytes_total_growth"`
}

func main() {
	dsn := flag.String("db", "", "database (default: SQLite in a temporary directory)")
	regs := flag.Int("registrations", 2000, "registrations to book")
	conc := flag.Int("concurrency", 16, "concurrent registrations")
	timers := flag.Int("timers", 10000, "timers to fire")
	spread := flag.Duration("spread", 10*time.Second, "timers fall due over this window")
	mode := flag.String("mode", "control", "control (engine and store), locations (a crowd through two server replicas and simulated agents), pages (web pages with -registrations in the database), render (content deployment) or hub (a real JupyterHub, as root)")
	simultaneous := flag.String("simultaneous", "1,100", "hub mode: registrations booked at once, per round")
	warm := flag.Int("warm", 0, "hub mode: the workshop's warm pool; each round waits until it is full (servers running) before its burst")
	firstSeat := flag.Int("seat", 9201, "hub mode: the first seat number of the bench's accounts")
	uidBase := flag.Int("uid-base", 54000, "hub mode: uid (and gid) of seat N is this base + N")
	prestart := flag.Bool("prestart", true, "hub mode: start each student's server as part of ready")
	cpuprofile := flag.String("cpuprofile", "", "pages and locations modes: write a CPU profile of the run to this file")
	participants := flag.Int("participants", 2000, "locations mode: participants who book, get ready and end")
	locations := flag.Int("locations", 20, "locations mode: simulated locations, one agent each")
	workshops := flag.Int("workshops", 0, "locations mode: 0 for one workshop per location, N for N workshops each at every location")
	replicas := flag.Int("replicas", 2, "locations mode: server replicas sharing the database")
	workers := flag.Int("workers", 4, "locations mode: job workers of each simulated agent")
	heartbeat := flag.Duration("heartbeat", 5*time.Second, "locations mode: heartbeat period of each simulated agent")
	endAfterRush := flag.Bool("end-after-rush", false, "locations mode: participants end once every one is ready (a morning rush), not each as soon as ready")
	flag.Parse()
	var err error
	switch *mode {
	case "control":
		err = run(*dsn, *regs, *conc, *timers, *spread)
	case "pages":
		var res *pagesResult
		if res, err = benchPages(context.Background(), *dsn, *regs, 200, *cpuprofile); err == nil {
			err = printJSON(res)
		}
	case "locations":
		var res *locationsResult
		o := locationsOptions{DB: *dsn, Participants: *participants, Locations: *locations, Workshops: *workshops,
			Replicas: *replicas, Concurrency: *conc, Workers: *workers, Heartbeat: *heartbeat, Timeout: 5 * time.Minute,
			EndAfterRush: *endAfterRush}
		if res, err = withProfile(*cpuprofile, func() (*locationsResult, error) {
			return benchLocations(context.Background(), o)
		}); err == nil {
			err = printJSON(res)
		}
	case "render":
		var res *renderResult
		if res, err = benchRender(200); err == nil {
			err = printJSON(res)
		}
	case "hub":
		var counts []int
		for _, f := range strings.Split(*simultaneous, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
				fmt.Fprintln(os.Stderr, "wod-bench: -simultaneous takes numbers such as 1,100")
				os.Exit(2)
			}
			counts = append(counts, n)
		}
		var res []provisionResult
		if res, err = benchProvision(context.Background(), hubOptions{Counts: counts,
			PreStart: *prestart, Warm: *warm, FirstSeat: *firstSeat, UIDBase: *uidBase}); err == nil {
			err = printJSON(res)
		}
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wod-bench:", err)
		os.Exit(1)
	}
}

func run(dsn string, regs, conc, timers int, spread time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "wod-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(tmp, "wod.db")
	}
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	keys, err := secret.LoadOrCreateKeys(tmp)
	if err != nil {
		return err
	}
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Bench", From: "wod@bench.test"}, "")
	if err != nil {
		return err
	}
	var late []time.Duration
	var lateMu sync.Mutex
	eng := &engine.Engine{Store: db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: keys,
		Clock: wod.SystemClock{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "http://bench.test",
		ProvisionTimeout: time.Hour, RemindBefore: time.Hour, AgentLease: time.Minute, Worker: "bench",
		Observer: lateness(func(d time.Duration) {
			lateMu.Lock()
			late = append(late, d)
			lateMu.Unlock()
		})}
	loc := &wod.Location{Name: "bench", HubURL: "http://hub.bench.test", Students: wod.MaxStudentsPerLocation}
	if err := db.CreateLocation(ctx, loc); err != nil {
		return err
	}
	w := &wod.Workshop{Slug: "WKSHP-Bench", Title: "Bench", Duration: wod.Duration(4 * time.Hour), Capacity: regs,
		SeatMin: 1, SeatMax: min(regs, wod.MaxStudentsPerLocation), LocationID: loc.ID, Active: true,
		Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
	if err := db.CreateWorkshop(ctx, w); err != nil {
		return err
	}
	res := result{Database: string(db.Dialect()), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Registrations: regs, Concurrency: conc, Timers: timers}

	// Memory before: collected, so that growth is what the registrations hold.
	heapBefore := liveHeap()

	// 1. Registrations accepted per second.
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(regs) {
					return
				}
				_, err := eng.Register(ctx, wod.RegistrationRequest{Workshop: w.Slug, Name: "Bench",
					Email: fmt.Sprintf("p%d@bench.example.com", i)})
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.RegistrationsPerSec = float64(regs) / time.Since(start).Seconds()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d registrations failed", f)
	}
	res.LiveRegistrations = regs

	// 3. Memory per live registration: the server keeps their state in the
	// database, so the heap should barely grow.
	heapAfter := liveHeap()
	res.HeapBytesTotalGrowth = heapAfter - heapBefore
	res.HeapBytesPerLiveReg = float64(res.HeapBytesTotalGrowth) / float64(regs)

	// 2. Timer lateness: timers due over the spread window, fired by the
	// engine's loop in real time.
	due := time.Now().Add(2 * time.Second)
	var js []*wod.Job
	for i := range timers {
		js = append(js, &wod.Job{Kind: wod.JobWatchdog, RunAt: due.Add(time.Duration(i) * spread / time.Duration(timers))})
	}
	if err := db.ScheduleJobs(ctx, js); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		eng.Run(runCtx)
	}()
	deadline := due.Add(spread + 60*time.Second)
	for time.Now().Before(deadline) {
		lateMu.Lock()
		n := len(late)
		lateMu.Unlock()
		if n >= timers {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-engineDone
	lateMu.Lock()
	defer lateMu.Unlock()
	if len(late) < timers {
		return fmt.Errorf("only %d of %d timers fired", len(late), timers)
	}
	slices.Sort(late)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.TimerLatenessP50Ms = ms(late[len(late)/2])
	res.TimerLatenessP99Ms = ms(late[len(late)*99/100])
	res.TimerLatenessMaxMs = ms(late[len(late)-1])

	return printJSON(res)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// withProfile runs fn under the CPU profiler when file is set.
func withProfile[T any](file string, fn func() (T, error)) (T, error) {
	if file == "" {
		return fn()
	}
	var zero T
	f, err := os.Create(file)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return zero, err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// liveHeap returns the live Go heap after full collections. (SQLite's page
// cache lives outside the Go heap with the pure-Go driver, and is bounded by
// its cache size whatever the number of registrations.)
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// lateness observes how late each timer fires.
type lateness func(time.Duration)

func (l lateness) Registered(error)                             {}
func (l lateness) TimerFired(_ wod.JobKind, late time.Duration) { l(late) }
func (l lateness) JobReported(wod.JobKind, bool, time.Duration) {}
func (l lateness) MailFinished(wod.MailKind, wod.MailState)     {}
