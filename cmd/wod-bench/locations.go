package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
)

// locationsOptions shape the control-plane crowd of -mode locations.
type locationsOptions struct {
	// DB is "" (SQLite in a temporary directory) or a PostgreSQL URL to
	// any database of the server: the run creates its own database there
	// and drops it after.
	DB           string
	Participants int
	Locations    int
	// Workshops is 0 for one workshop per location, or N for N workshops
	// each offered at every location (see placeWorkshops).
	Workshops   int
	Replicas    int
	Concurrency int
	// Workers are each simulated agent's job workers; Heartbeat its
	// heartbeat period.
	Workers   int
	Heartbeat time.Duration
	Timeout   time.Duration
	// EndAfterRush holds the ends until every participant is ready, as on
	// a morning of a conference (sessions last hours): the bookings then
	// share the machine with the creates alone, and the ends and cleanups
	// are measured apart. Otherwise each participant ends as soon as ready.
	EndAfterRush bool
}

// locationsResult is what -mode locations prints.
type locationsResult struct {
	Database     string  `json:"database"`
	GoVersion    string  `json:"go"`
	CPUs         int     `json:"cpus"`
	Participants int     `json:"participants"`
	Locations    int     `json:"locations"`
	Workshops    int     `json:"workshops"`
	Layout       string  `json:"layout"`
	Replicas     int     `json:"replicas"`
	Concurrency  int     `json:"concurrency"`
	Booked       int     `json:"booked"`
	BookSeconds  float64 `json:"booking_seconds"`
	BookingsPerS float64 `json:"bookings_per_second"`
	BookP50Ms    float64 `json:"booking_request_p50_ms"`
	BookP99Ms    float64 `json:"booking_request_p99_ms"`
	// Claims counts the claims that returned a job; their latency runs
	// from the later of the claim's request and the job's being due (the
	// answer to the request that scheduled it) to the job's arrival.
	Claims     int     `json:"claims_with_a_job"`
	ClaimP50Ms float64 `json:"claim_latency_p50_ms"`
	ClaimP99Ms float64 `json:"claim_latency_p99_ms"`
	ClaimMaxMs float64 `json:"claim_latency_max_ms"`
	// Ready runs from the booking's request to the agent's create report
	// being accepted (the credentials committed).
	Ready      int     `json:"ready"`
	ReadyP50Ms float64 `json:"booking_to_ready_p50_ms"`
	ReadyP99Ms float64 `json:"booking_to_ready_p99_ms"`
	ReadyMaxMs float64 `json:"booking_to_ready_max_ms"`
	// AllReadySeconds runs from the first booking to the last participant
	// made ready.
	AllReadySeconds float64 `json:"all_ready_seconds"`
	// Ends says when the participants ended: "as soon as ready" or "after
	// the rush"; after the rush, EndSeconds runs from the last ready to
	// the last cleanup, and EndsPerS is the sessions ended and cleaned up
	// a second over it.
	Ends       string  `json:"ends"`
	EndSeconds float64 `json:"end_seconds,omitempty"`
	EndsPerS   float64 `json:"ends_per_second,omitempty"`
	// Done counts the sessions the participants ended whose cleanup the
	// agents reported.
	Done         int     `json:"done"`
	TotalSeconds float64 `json:"total_seconds"`
	Heartbeats   int64   `json:"heartbeats"`
	// DBTransactions counts the database's transactions over the run
	// (PostgreSQL), DBTables the scans and row changes of its busiest tables:
	// where the database's time goes.
	DBTransactions int64            `json:"db_transactions,omitempty"`
	DBTables       map[string]int64 `json:"db_table_activity,omitempty"`
	Errors         int              `json:"errors"`
	ErrorKinds     map[string]int   `json:"error_kinds,omitempty"`
}

// benchLocations runs the control plane under a crowd: o.Participants book
// through the public API, round-robin over o.Replicas real servers sharing
// one database, while one simulated agent per location (the real agent's
// runner and HTTP client, with an operator that does nothing on a host)
// claims, creates, and cleans up after each participant ends their session.
func benchLocations(ctx context.Context, o locationsOptions) (*locationsResult, error) {
	if o.Participants < 1 || o.Locations < 1 || o.Replicas < 1 || o.Concurrency < 1 || o.Workers < 1 {
		return nil, fmt.Errorf("-participants, -locations, -replicas, -concurrency and -workers must be positive")
	}
	if o.Workshops < 0 || o.Locations > wod.MaxWorkshopLocations && o.Workshops > 0 {
		return nil, fmt.Errorf("-workshops must be 0, or N with at most %d locations", wod.MaxWorkshopLocations)
	}
	tmp, err := os.MkdirTemp("", "wod-bench-locations")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dsn := "sqlite:" + filepath.Join(tmp, "wod.db")
	if o.DB != "" {
		var drop func()
		if dsn, drop, err = freshPostgres(ctx, o.DB); err != nil {
			return nil, err
		}
		defer drop()
	}
	errs := &errorTally{kinds: map[string]int{}}
	logger := slog.New(errs)
	replicas, stop, err := startReplicas(ctx, dsn, filepath.Join(tmp, "data"), o.Replicas, logger)
	if err != nil {
		return nil, err
	}
	defer stop()
	db := replicas[0].app.DB
	locs, tokens, err := makeLocations(ctx, db, o.Locations, seatsPerLocation(o))
	if err != nil {
		return nil, err
	}
	slugs, err := placeWorkshops(ctx, db, locs, o.Workshops, seatsPerLocation(o))
	if err != nil {
		return nil, err
	}
	res := &locationsResult{Database: string(db.Dialect()), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Participants: o.Participants, Locations: o.Locations, Workshops: len(slugs), Layout: layoutName(o.Workshops),
		Replicas: o.Replicas, Concurrency: o.Concurrency}

	// Keep-alive connections sized for the crowd: the default two idle
	// connections per host would open a new one for most requests.
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: 2 * (o.Concurrency + o.Locations*o.Workers), IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	crowd := newCrowd(o.Participants)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var agents sync.WaitGroup
	var heartbeats atomic.Int64
	ended := make(chan int64, 2*o.Participants)
	for i, l := range locs {
		// Each agent talks to one replica, as behind a load balancer that
		// keeps its connections.
		srv := &timedServer{Client: &agent.Client{BaseURL: replicas[i%len(replicas)].url, Token: tokens[i], HTTP: hc},
			crowd: crowd, ready: ended, heartbeats: &heartbeats}
		r := &agent.Runner{Server: srv, Operator: simulatedHost{}, Logger: logger.With("agent", l.Name),
			Workers: o.Workers, HeartbeatEvery: o.Heartbeat, ClaimWait: 25 * time.Second}
		agents.Go(func() { r.Run(runCtx) })
	}
	defer func() {
		cancel()
		agents.Wait()
	}()
	// Participants end their session through their status link, as soon as
	// it is ready (cleanups run beside the bookings) or once the rush is over.
	rushOver := make(chan struct{})
	res.Ends = "as soon as ready"
	if !o.EndAfterRush {
		close(rushOver)
	} else {
		res.Ends = "after the rush"
	}
	var enders sync.WaitGroup
	for i := range o.Concurrency {
		enders.Go(func() {
			for {
				select {
				case <-runCtx.Done():
					return
				case id := <-ended:
					p := crowd.get(id)
					select {
					case <-p.booked:
					case <-runCtx.Done():
						return
					}
					select {
					case <-rushOver:
					case <-runCtx.Done():
						return
					}
					err := endSession(runCtx, hc, replicas[i%len(replicas)].url, p.statusToken)
					switch {
					case err == nil:
						crowd.ended(id, time.Now())
					case runCtx.Err() == nil:
						errs.add("end: " + wod.ErrorCode(err))
						crowd.finish(id, false)
					}
				}
			}
		})
	}

	if err := waitForAgents(ctx, db, len(locs)); err != nil {
		return nil, err
	}
	start := time.Now()
	var next atomic.Int64
	var bookers sync.WaitGroup
	var bookLat []time.Duration
	var bookMu sync.Mutex
	for range o.Concurrency {
		bookers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Participants || runCtx.Err() != nil {
					return
				}
				base := replicas[i%len(replicas)].url
				sent := time.Now()
				reg, err := book(runCtx, hc, base, slugs[i%len(slugs)], i)
				answered := time.Now()
				if err != nil {
					errs.add("booking: " + wod.ErrorCode(err))
					continue
				}
				crowd.booked(reg.ID, reg.StatusURL, sent, answered)
				bookMu.Lock()
				bookLat = append(bookLat, answered.Sub(sent))
				bookMu.Unlock()
			}
		})
	}
	bookers.Wait()
	res.BookSeconds = time.Since(start).Seconds()
	res.Booked = len(bookLat)
	res.BookingsPerS = float64(res.Booked) / res.BookSeconds
	res.BookP50Ms, res.BookP99Ms, _ = percentiles(bookLat)

	deadline := time.Now().Add(o.Timeout)
	if o.EndAfterRush {
		for n, _ := crowd.readiness(); n < res.Booked && time.Now().Before(deadline); n, _ = crowd.readiness() {
			time.Sleep(10 * time.Millisecond)
		}
		close(rushOver)
	}
	// Every booked participant ends up done (or given up on as an error).
	for crowd.settled() < res.Booked && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if os.Getenv("WOD_BENCH_DEBUG") != "" && time.Since(start).Milliseconds()%2000 < 20 {
			fmt.Fprintln(os.Stderr, "progress", time.Since(start).Round(time.Second), crowd.debug())
		}
	}
	res.TotalSeconds = time.Since(start).Seconds()
	if _, last := crowd.readiness(); !last.IsZero() {
		res.AllReadySeconds = last.Sub(start).Seconds()
		if o.EndAfterRush {
			res.EndSeconds = res.TotalSeconds - res.AllReadySeconds
			res.EndsPerS = float64(crowd.settled()) / res.EndSeconds
		}
	}
	if n := res.Booked - crowd.settled(); n > 0 {
		errs.addN("not done within -timeout", n)
	}
	errs.closed.Store(true)
	cancel()
	agents.Wait()
	enders.Wait()

	claims, ready, done := crowd.figures()
	res.Claims, res.Ready, res.Done = len(claims), len(ready), done
	res.ClaimP50Ms, res.ClaimP99Ms, res.ClaimMaxMs = percentiles(claims)
	res.ReadyP50Ms, res.ReadyP99Ms, res.ReadyMaxMs = percentiles(ready)
	res.Heartbeats = heartbeats.Load()
	if o.DB != "" {
		res.DBTransactions, res.DBTables = postgresActivity(ctx, dsn)
	}
	res.Errors, res.ErrorKinds = errs.total()
	return res, nil
}

func layoutName(workshops int) string {
	if workshops == 0 {
		return "one workshop per location"
	}
	return fmt.Sprintf("%d workshops, each at every location", workshops)
}

// seatsPerLocation gives every location room for its share of the crowd,
// in equal shares for the workshops offered at every location.
func seatsPerLocation(o locationsOptions) int {
	seats := (o.Participants + o.Locations - 1) / o.Locations
	if n := o.Workshops; n > 0 {
		seats = (seats + n - 1) / n * n
	}
	return seats
}

func percentiles(ds []time.Duration) (p50, p99, maxMs float64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	return ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), ms(ds[len(ds)-1])
}

// freshPostgres creates an empty database on the server of adminURL and
// returns its URL, and drop, which removes it.
func freshPostgres(ctx context.Context, adminURL string) (dsn string, drop func(), err error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-db takes a postgres:// URL to any database of the server (the run creates its own)")
	}
	conn, err := sql.Open("pgx", withoutPoolSize(adminURL))
	if err != nil {
		return "", nil, err
	}
	name := "wodbench_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close()
		return "", nil, fmt.Errorf("create the bench database on %s: %w", store.RedactDSN(adminURL), err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "wod-bench: drop database %s: %v\n", name, err)
		}
		conn.Close()
	}, nil
}

// postgresActivity reads the database's statistics: its transactions,
// and per table the sequential and index scans and the rows written.
func postgresActivity(ctx context.Context, dsn string) (int64, map[string]int64) {
	conn, err := sql.Open("pgx", withoutPoolSize(dsn))
	if err != nil {
		return 0, nil
	}
	defer conn.Close()
	var n int64
	conn.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	tables := map[string]int64{}
	rows, err := conn.QueryContext(ctx, `SELECT relname, seq_scan, COALESCE(idx_scan, 0), n_tup_ins + n_tup_upd + n_tup_del
		FROM pg_stat_user_tables`)
	if err != nil {
		return n, nil
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq, idx, written int64
		if rows.Scan(&name, &seq, &idx, &written) == nil && seq+idx+written > 1000 {
			tables[name+" seq_scans"], tables[name+" index_scans"], tables[name+" rows_written"] = seq, idx, written
		}
	}
	return n, tables
}

// withoutPoolSize drops the store's pool_max_conns from a PostgreSQL URL
// (the replicas' pools take it; the server would refuse it as a setting)
// for the bench's own connections.
func withoutPoolSize(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String()
}

// replica is one server of the bench: the real application (API, pages,
// engine, outbox) on its own loopback port.
type replica struct {
	app *app.App
	url string
}

// startReplicas starts n servers on one database and one data directory
// (their keys must agree: a status link signed by one works on the other).
// Registration rate limiting is off: the crowd comes from one address.
func startReplicas(ctx context.Context, dsn, data string, n int, logger *slog.Logger) ([]replica, func(), error) {
	serveCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() {
		cancel()
		wg.Wait()
	}
	var out []replica
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, err
		}
		public := "http://" + ln.Addr().String()
		cfg := &config.Config{}
		fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
		cfg.Register(fs)
		if err := fs.Parse([]string{"--db", dsn, "--data", data, "--registration-rate", "0", "--public-url", public}); err == nil {
			err = cfg.Resolve(fs, func(string) string { return "" })
		}
		if err != nil {
			ln.Close()
			stop()
			return nil, nil, err
		}
		a := &app.App{Config: cfg, Logger: logger.With("replica", i), Stderr: io.Discard}
		err = a.Open(ctx)
		if err == nil {
			if err = a.OpenKeys(); err == nil {
				err = a.Build()
			}
			if err != nil {
				a.Close()
			}
		}
		if err != nil {
			ln.Close()
			stop()
			return nil, nil, fmt.Errorf("replica %d: %w", i, err)
		}
		wg.Go(func() {
			defer a.Close()
			if err := a.Serve(serveCtx, ln); err != nil {
				logger.Error("replica stopped", "replica", i, "error", err)
			}
		})
		out = append(out, replica{app: a, url: public})
	}
	return out, stop, nil
}

// makeLocations creates n locations of seats each, with their agent tokens.
func makeLocations(ctx context.Context, db *store.DB, n, seats int) ([]*wod.Location, []string, error) {
	var locs []*wod.Location
	var tokens []string
	for i := range n {
		l := &wod.Location{Name: fmt.Sprintf("site%02d", i+1), HubURL: fmt.Sprintf("http://hub%02d.bench.test", i+1),
			BaseStudentID: i * seats, Students: seats}
		if err := db.CreateLocation(ctx, l); err != nil {
			return nil, nil, err
		}
		token, _, hash := secret.NewToken()
		if err := db.SetLocationAgentToken(ctx, l.Name, hash); err != nil {
			return nil, nil, err
		}
		locs = append(locs, l)
		tokens = append(tokens, token)
	}
	return locs, tokens, nil
}

// placeWorkshops creates the workshops the crowd books and returns their
// slugs. With workshops 0, each location has its own workshop holding all
// its seats. With workshops N, there are N workshops each offered at every
// location, side by side in each location's seats (workshop k takes the
// k-th share of every location's range), and placement picks among the
// locations for each booking.
func placeWorkshops(ctx context.Context, db *store.DB, locs []*wod.Location, workshops, seats int) ([]string, error) {
	var slugs []string
	add := func(n int, w *wod.Workshop) error {
		w.Slug, w.Title = fmt.Sprintf("WKSHP-Bench%02d", n), fmt.Sprintf("Bench workshop %d", n)
		w.Duration, w.Active, w.Appliance, w.SessionType = wod.Duration(2*time.Hour), true, wod.ApplianceNone, wod.SessionWorkshop
		slugs = append(slugs, w.Slug)
		return db.CreateWorkshop(ctx, w)
	}
	if workshops == 0 {
		for i, l := range locs {
			if err := add(i+1, &wod.Workshop{Capacity: seats, SeatMin: 1, SeatMax: seats, LocationID: l.ID}); err != nil {
				return nil, err
			}
		}
		return slugs, nil
	}
	ids := make([]int64, len(locs))
	for i, l := range locs {
		ids[i] = l.ID
	}
	share := seats / workshops
	for k := range workshops {
		w := &wod.Workshop{Capacity: share * len(locs), SeatMin: k*share + 1, SeatMax: (k + 1) * share,
			LocationID: ids[0], LocationIDs: slices.Clone(ids)}
		if err := add(k+1, w); err != nil {
			return nil, err
		}
	}
	return slugs, nil
}

// waitForAgents waits until every location's agent has said it is alive:
// placement gives no participant to a location whose agent is silent.
func waitForAgents(ctx context.Context, db *store.DB, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ls, err := db.FindLocations(ctx)
		if err != nil {
			return err
		}
		alive := 0
		for _, l := range ls {
			if l.LastHeartbeat != nil {
				alive++
			}
		}
		if alive >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d agents sent a heartbeat within a minute", alive, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type booking struct {
	ID        int64  `json:"id"`
	StatusURL string `json:"status_url"`
}

// book registers participant i through the public API, as the portal's
// visitors do.
func book(ctx context.Context, hc *http.Client, base, slug string, i int) (*booking, error) {
	var b booking
	err := postJSON(ctx, hc, base+"/api/v1/registrations", map[string]string{"workshop": slug,
		"name": fmt.Sprintf("Participant %d", i), "email": fmt.Sprintf("p%d@bench.example.com", i)}, &b)
	return &b, err
}

// endSession is the participant's "end now", through their status link.
func endSession(ctx context.Context, hc *http.Client, base, token string) error {
	return postJSON(ctx, hc, base+"/api/v1/status/"+token+"/end", map[string]string{}, nil)
}

func postJSON(ctx context.Context, hc *http.Client, u string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return &wod.Error{Code: "transport", Message: err.Error()}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		var e struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(body, &e) != nil || e.Code == "" {
			e.Code = fmt.Sprint(res.StatusCode)
		}
		return &wod.Error{Code: e.Code, Message: strings.TrimSpace(string(body))}
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// statusToken is the last element of a status link.
func statusToken(statusURL string) string { return path.Base(statusURL) }
