// Package loadtest plays participants against a running wod, the way
// hubtraf does against a JupyterHub: each one registers through the API,
// waits for their seat, logs in to the hub with the password they got,
// opens their notebook server, runs code in a kernel, and ends the
// session. It measures each step, so an operator knows before the event
// what conference day will feel like.
package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

// Options of a run.
type Options struct {
	Server string // wod's URL
	Token  string // an operator's API token: registrations and credentials
	// Workshop is the slug the participants register for.
	Workshop     string
	Participants int
	// Rate is registrations per second; 0 sends them all at once.
	Rate float64
	// Code runs in each participant's kernel; empty skips the kernel.
	Code string
	// EmailDomain of the participants' addresses.
	EmailDomain string
	// Think is how long a participant takes between getting credentials
	// and logging in (reading the mail); pre-start warms the server
	// meanwhile, as it does for real people.
	Think time.Duration
	// Poll is how often a registration's state is read (default 500 ms).
	Poll time.Duration
	// Timeout bounds one participant's whole run (default 10 min).
	Timeout time.Duration
	// Keep leaves the sessions running instead of ending them.
	Keep bool
	// Wait: participants who find the workshop full join its waiting
	// line ("wait": true) instead of failing, and the report says how
	// long they stood in it.
	Wait bool
	// Warm, when positive, waits before the participants start until the
	// workshop has this many warm seats (its pool is set by its wod.yml or
	// an operator; the load test only waits for it), so that a run
	// measures a room arriving at a full pool.
	Warm   int
	HTTP   *http.Client
	Logger *slog.Logger
}

// Stage is a step of a participant's run.
type Stage string

// The stages, in order.
const (
	StageRegister Stage = "register" // the API books a seat (or a place in the waiting line)
	StageWait     Stage = "wait"     // time in the waiting line, for those who stood in it (--wait)
	StageReady    Stage = "ready"    // from registering to credentials (time in line included)
	StageLogin    Stage = "login"    // the hub's login form
	StageOpen     Stage = "open"     // the notebook server answers (started if needed)
	StageExecute  Stage = "execute"  // a kernel starts and runs the code
	StageEnd      Stage = "end"      // from "end now" to measured, wiped and freed
)

// Stages lists the stages in order.
var Stages = []Stage{StageRegister, StageWait, StageReady, StageLogin, StageOpen, StageExecute, StageEnd}

// Report is what a run measured. Durations are in seconds.
type Report struct {
	Run          string `json:"run"`
	Server       string `json:"server"`
	Workshop     string `json:"workshop"`
	Participants int    `json:"participants"`
	Succeeded    int    `json:"succeeded"`
	// Waited counts the participants who joined the waiting line.
	Waited  int     `json:"waited,omitempty"`
	Seconds float64 `json:"seconds"`
	// WarmSeconds is how long the pool took to fill before the start
	// (Options.Warm).
	WarmSeconds float64      `json:"warm_seconds,omitempty"`
	Stages      []StageStats `json:"stages"`
	// ToOpen is from registering to the notebook server answering: what
	// the participant waits for, steps and thinking time included.
	ToOpen *StageStats  `json:"register_to_open,omitempty"`
	Errors []ErrorCount `json:"errors,omitempty"`
}

// StageStats sums up one stage over the participants that reached it.
type StageStats struct {
	Stage  Stage   `json:"stage"`
	OK     int     `json:"ok"`
	Failed int     `json:"failed"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// ErrorCount is one kind of failure and how many participants met it.
type ErrorCount struct {
	Stage Stage  `json:"stage"`
	Error string `json:"error"`
	Count int    `json:"count"`
}

type result struct {
	durations map[Stage]time.Duration
	failed    Stage
	err       string
	waited    bool
	toOpen    time.Duration // 0 if the notebook never opened
}

// Run plays the participants and reports. It ends the sessions it opened
// (unless Keep), even when ctx is cancelled.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	c := &api{base: strings.TrimSuffix(o.Server, "/"), token: o.Token, http: o.HTTP}
	var ws struct {
		Slug   string       `json:"slug"`
		Active bool         `json:"active"`
		Warm   wod.WarmPool `json:"warm"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/workshops/"+o.Workshop, nil, &ws); err != nil {
		return nil, fmt.Errorf("workshop %s: %w", o.Workshop, err)
	}
	if !ws.Active {
		return nil, fmt.Errorf("workshop %s is not active: participants could not register", o.Workshop)
	}
	var warmTook time.Duration
	if o.Warm > 0 {
		if ws.Warm != wod.WarmAuto && int(ws.Warm) < o.Warm {
			return nil, fmt.Errorf("workshop %s keeps %d warm seats, not %d: set its pool first (warm: in its wod.yml, or PATCH /api/v1/workshops/%s)",
				o.Workshop, ws.Warm, o.Warm, o.Workshop)
		}
		t0 := time.Now()
		if err := c.waitWarm(ctx, o.Workshop, o.Warm, o.Poll, o.Timeout); err != nil {
			return nil, err
		}
		warmTook = time.Since(t0)
	}
	run := strings.ToLower(rand.Text()[:8])
	o.Logger.InfoContext(ctx, "load test", "run", run, "server", o.Server, "workshop", o.Workshop,
		"participants", o.Participants, "rate", o.Rate, "wait", o.Wait)
	start := time.Now()
	results := make([]result, o.Participants)
	var wg sync.WaitGroup
	var pace <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		pace = t.C
	}
	for i := range o.Participants {
		if pace != nil && i > 0 {
			select {
			case <-pace:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			results[i] = result{failed: StageRegister, err: "not started: " + ctx.Err().Error()}
			continue
		}
		wg.Go(func() { results[i] = o.participant(ctx, c, run, i+1) })
	}
	wg.Wait()
	rep := summarize(o, run, time.Since(start), results)
	rep.WarmSeconds = warmTook.Seconds()
	return rep, nil
}

// waitWarm waits until the workshop has n warm seats, for at most limit.
func (c *api) waitWarm(ctx context.Context, workshop string, n int, poll, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		var seats struct {
			Items []struct {
				WarmWorkshop string `json:"warm_workshop"`
			} `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/seats?state=warm&limit=1000", nil, &seats); err != nil {
			return fmt.Errorf("the warm seats: %w", err)
		}
		have := 0
		for _, s := range seats.Items {
			if s.WarmWorkshop == workshop {
				have++
			}
		}
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workshop %s has %d warm seats of the %d awaited: %w", workshop, have, n, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (o *Options) defaults() error {
	if o.Server == "" || o.Token == "" || o.Workshop == "" {
		return errors.New("a load test needs the server's URL, an operator token and a workshop")
	}
	if o.Participants < 1 {
		return errors.New("a load test needs at least one participant")
	}
	if o.Rate < 0 {
		return errors.New("the rate must not be negative")
	}
	if o.EmailDomain == "" {
		o.EmailDomain = "example.org"
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// participant is one participant's run.
func (o *Options) participant(parent context.Context, c *api, run string, n int) (res result) {
	res.durations = map[Stage]time.Duration{}
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	log := o.Logger.With("participant", n)
	fail := func(s Stage, err error) result {
		res.failed, res.err = s, err.Error()
		log.WarnContext(ctx, "participant failed", "stage", s, "error", err)
		return res
	}
	step := func(s Stage, t0 time.Time) { res.durations[s] = time.Since(t0) }

	t0 := time.Now()
	registered := t0
	var reg struct {
		ID    int64                 `json:"id"`
		State wod.RegistrationState `json:"state"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/registrations", map[string]any{"workshop": o.Workshop,
		"name": fmt.Sprintf("Load Test %d", n), "email": fmt.Sprintf("wod-loadtest-%s-%d@%s", run, n, o.EmailDomain),
		"company": "wod loadtest " + run, "wait": o.Wait}, &reg)
	if err != nil {
		return fail(StageRegister, err)
	}
	step(StageRegister, t0)
	ended := false
	defer func() {
		if !ended && !o.Keep {
			// Whatever happened, the seat goes back.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
			defer cancel()
			if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/registrations/%d/end", reg.ID), nil, nil); err != nil {
				log.WarnContext(ctx, "ending the session", "registration", reg.ID, "error", err)
			}
		}
	}()

	if reg.State == wod.StateWaiting {
		res.waited = true
		// The time in line is the server's own (from joining to the
		// seat), not the polling's.
		r, err := c.waitState(ctx, reg.ID, o.Poll, wod.StatePending, wod.StateReady, wod.StateExpiring)
		if err != nil {
			return fail(StageWait, err)
		}
		if r.WaitingSince == nil || r.SeatedAt == nil {
			return fail(StageWait, errors.New("the registration left the line without its times"))
		}
		res.durations[StageWait] = r.SeatedAt.Sub(*r.WaitingSince)
	}
	r, err := c.waitState(ctx, reg.ID, o.Poll, wod.StateReady, wod.StateExpiring)
	if err != nil {
		return fail(StageReady, err)
	}
	step(StageReady, t0)
	hub, ok := strings.CutSuffix(r.LoginURL, "/hub/login")
	if !ok || r.Username == "" || r.Password == "" {
		return fail(StageReady, fmt.Errorf("the ready registration has no credentials (login URL %q)", r.LoginURL))
	}

	if o.Think > 0 {
		select {
		case <-ctx.Done():
			return fail(StageLogin, ctx.Err())
		case <-time.After(o.Think):
		}
	}
	p := jupyterhub.NewParticipant(hub, r.Username)
	t0 = time.Now()
	if ok, err := p.Login(ctx, r.Password); err != nil {
		return fail(StageLogin, err)
	} else if !ok {
		return fail(StageLogin, errors.New("the hub refused the password"))
	}
	step(StageLogin, t0)

	t0 = time.Now()
	if err := p.Open(ctx); err != nil {
		return fail(StageOpen, err)
	}
	step(StageOpen, t0)
	res.toOpen = time.Since(registered)

	if o.Code != "" {
		t0 = time.Now()
		if _, _, err := p.Execute(ctx, o.Code); err != nil {
			return fail(StageExecute, err)
		}
		step(StageExecute, t0)
	}

	if o.Keep {
		return res
	}
	t0 = time.Now()
	ended = true
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/registrations/%d/end", reg.ID), nil, nil); err != nil {
		return fail(StageEnd, err)
	}
	if _, err := c.waitState(ctx, reg.ID, o.Poll, wod.StateDone); err != nil {
		return fail(StageEnd, err)
	}
	step(StageEnd, t0)
	return res
}

func summarize(o Options, run string, took time.Duration, results []result) *Report {
	rep := &Report{Run: run, Server: o.Server, Workshop: o.Workshop, Participants: o.Participants, Seconds: took.Seconds()}
	errs := map[[2]string]int{}
	for _, r := range results {
		if r.waited {
			rep.Waited++
		}
		if r.failed == "" {
			rep.Succeeded++
		} else {
			errs[[2]string{string(r.failed), r.err}]++
		}
	}
	for _, s := range Stages {
		st := StageStats{Stage: s}
		var ds []time.Duration
		for _, r := range results {
			if d, ok := r.durations[s]; ok {
				ds = append(ds, d)
			}
			if r.failed == s {
				st.Failed++
			}
		}
		if len(ds) == 0 && st.Failed == 0 {
			continue // not measured in this run (no code, or sessions kept)
		}
		st.OK = len(ds)
		slices.Sort(ds)
		st.P50, st.P90, st.P99 = percentile(ds, 50), percentile(ds, 90), percentile(ds, 99)
		if len(ds) > 0 {
			st.Max = ds[len(ds)-1].Seconds()
		}
		rep.Stages = append(rep.Stages, st)
	}
	var toOpen []time.Duration
	for _, r := range results {
		if r.toOpen > 0 {
			toOpen = append(toOpen, r.toOpen)
		}
	}
	if len(toOpen) > 0 {
		slices.Sort(toOpen)
		rep.ToOpen = &StageStats{Stage: "register→open", OK: len(toOpen), P50: percentile(toOpen, 50),
			P90: percentile(toOpen, 90), P99: percentile(toOpen, 99), Max: toOpen[len(toOpen)-1].Seconds()}
	}
	for k, n := range errs {
		rep.Errors = append(rep.Errors, ErrorCount{Stage: Stage(k[0]), Error: k[1], Count: n})
	}
	slices.SortFunc(rep.Errors, func(a, b ErrorCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Error, b.Error))
	})
	return rep
}

// percentile is the nearest-rank percentile of sorted durations, in seconds.
func percentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))].Seconds()
}

// api is a small client of wod's REST API with an operator token.
type api struct {
	base, token string
	http        *http.Client
}

type registration struct {
	State        wod.RegistrationState `json:"state"`
	WaitingSince *time.Time            `json:"waiting_since"`
	SeatedAt     *time.Time            `json:"seated_at"`
	Username     string                `json:"username"`
	Password     string                `json:"password"`
	LoginURL     string                `json:"login_url"`
}

// waitState polls the registration until it is in one of the states; a
// failed or finished one that was not wanted is an error.
func (c *api) waitState(ctx context.Context, id int64, poll time.Duration, want ...wod.RegistrationState) (*registration, error) {
	for {
		var r registration
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/registrations/%d", id), nil, &r); err != nil {
			return nil, err
		}
		if slices.Contains(want, r.State) {
			return &r, nil
		}
		if r.State.Final() {
			return nil, fmt.Errorf("the registration is %s", r.State)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("still %s: %w", r.State, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (c *api) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		// wod's errors carry a code ("full", "already_registered") and a message.
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			return fmt.Errorf("%d %s: %s", res.StatusCode, e.Code, e.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}
