package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/mail/smtptest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// binary is the wod executable built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wod-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wod")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build wod: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// platform is a wod server run as a real process, which the test may kill.
type platform struct {
	t    *testing.T
	args []string
	addr string
	base string
	cmd  *exec.Cmd
	logs interface {
		io.Writer
		String() string
	}
	admin  string
	exited chan struct{}
}

func startPlatform(t *testing.T, args ...string) *platform {
	t.Helper()
	p := &platform{t: t, args: args, addr: freeAddr(t)}
	p.base = "http://" + p.addr
	p.start()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *platform) start() {
	p.t.Helper()
	p.logs = &processLog{}
	p.cmd = exec.Command(binary, append([]string{"server", "--addr", p.addr, "--log-level", "warn"}, p.args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.exited) }()
	p.waitReady()
}

// waitReady waits for the process to answer ready; if it does not, the
// failure shows its log (a hub that would not start says why there).
func (p *platform) waitReady() {
	p.t.Helper()
	if err := pollReady(p.base+"/readyz", 2*time.Minute, p.exited); err != nil {
		p.t.Fatalf("%v; its log:\n%s", err, p.logs.String())
	}
}

// kill ends the server abruptly, as a power cut would.
func (p *platform) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

func (p *platform) restart() {
	p.t.Helper()
	p.kill()
	p.start()
}

// api calls the server with the admin token; it retries while the server is
// down (restarting).
func (p *platform) api(method, path string, in any) map[string]any {
	p.t.Helper()
	for range 100 {
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, p.base+path, body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p.admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			p.t.Fatalf("%s %s: %d %v\n%s", method, path, res.StatusCode, out, p.logs)
		}
		return out
	}
	p.t.Fatalf("%s %s: the server does not answer\n%s", method, path, p.logs)
	return nil
}

// countingHost is the test's stand-in for a JupyterHub host: it counts what it
// is asked to do.
type countingHost struct {
	mu     sync.Mutex
	counts map[string]int // "registration/kind"
	delay  time.Duration
	// started, when set, hears of every operation as it starts.
	started chan *wod.AgentJob
}

func (o *countingHost) Run(ctx context.Context, j *wod.AgentJob) (agent.Outcome, error) {
	o.mu.Lock()
	o.counts[fmt.Sprintf("%d/%s", j.RegistrationID, j.Kind)]++
	o.mu.Unlock()
	if o.started != nil {
		select {
		case o.started <- j:
		default:
		}
	}
	select {
	case <-time.After(o.delay):
	case <-ctx.Done():
		return agent.Outcome{}, ctx.Err()
	}
	switch j.Kind {
	case wod.JobCreate:
		return agent.Outcome{Password: fmt.Sprintf("pw-%d-%s", j.RegistrationID, j.Username)}, nil
	case wod.JobCleanup:
		c := 50
		return agent.Outcome{Completion: &c}, nil
	}
	return agent.Outcome{}, nil
}

func (o *countingHost) count(id int64, kind wod.JobKind) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[fmt.Sprintf("%d/%s", id, kind)]
}

// setup prepares a database for the server processes: migrated, with an
// admin token; then, through a running server, a location, its agent token
// and a short workshop.
func setup(t *testing.T, dsn, data string) string {
	t.Helper()
	common := []string{"--data", data, "--db", dsn, "--log-level", "warn"}
	if code, _, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	code, out, errOut := runWod(t, "", append([]string{"token", "create", "--role", "admin"}, common...)...)
	if code != 0 {
		t.Fatalf("token: %s", errOut)
	}
	return strings.TrimSpace(out)
}

func (p *platform) prepare(duration string, students int) (agentToken string) {
	p.api("POST", "/api/v1/locations", map[string]any{"name": "local", "hub_url": "http://hub.test", "students": students})
	tok := p.api("POST", "/api/v1/locations/local/agent-token", nil)["token"].(string)
	p.api("POST", "/api/v1/workshops", map[string]any{"slug": "WKSHP-Short", "title": "Short", "duration": duration,
		"seat_min": 1, "seat_max": students, "capacity": students, "active": true})
	return tok
}

func runAgent(t *testing.T, ctx context.Context, base, token string, op *countingHost) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &agent.Runner{Server: &agent.Client{BaseURL: base, Token: token}, Operator: op, Logger: logger,
		Workers: 4, ClaimWait: 2 * time.Second, HeartbeatEvery: time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	t.Cleanup(wg.Wait)
}

func serverArgs(dsn, data string, smtp *smtptest.Server) []string {
	return []string{"--db", dsn, "--data", data, "--smtp-host", smtp.Host, "--smtp-port", fmt.Sprint(smtp.Port),
		"--smtp-security", "none", "--smtp-timeout", "2s", "--mail-from", "wod@acme.test", "--provision-timeout", "60s", "--remind-before", "3s",
		"--registration-rate", "0", "--brand-name", "Acme"}
}

// waitState polls a registration until it reaches the state.
func (p *platform) waitState(id int64, state wod.RegistrationState, timeout time.Duration) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", id), nil)
		if r["state"] == string(state) {
			return r
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("registration %d is %v after %s, want %s\n%s", id, r["state"], timeout, state, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutboxSettled waits until no mail of the outbox is still queued or
// being sent: from then on the outbox, the platform's
// only sender, has nothing more for the relay, so what the relay holds is
// all it will get (a mail caught in flight by a kill is sent again when its
// lease ends, and is "sending" until then).
func (p *platform) waitOutboxSettled(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.api("GET", "/api/v1/mails?limit=1000", nil)
		items, _ := r["items"].([]any)
		pending := 0
		for _, it := range items {
			switch it.(map[string]any)["state"] {
			case string(wod.MailQueued), string(wod.MailSending):
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the outbox holds %d mails still to send after %s\n%s", pending, timeout, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailsTo counts the mails each address received by subject word, and the
// distinct Message-IDs.
func mailsTo(smtp *smtptest.Server, addr string) (subjects []string, ids map[string]bool) {
	ids = map[string]bool{}
	for _, m := range smtp.Messages() {
		for _, to := range m.To {
			if to == addr {
				subjects = append(subjects, m.Subject)
				ids[m.MessageID] = true
			}
		}
	}
	return subjects, ids
}

// TestCrashAtEveryStep kills the server with SIGKILL at every step of a
// registration's life, and in the middle of an agent operation, and
// restarts it: the registration finishes, every mail arrives once, the seat
// comes back.
func TestCrashAtEveryStep(t *testing.T) {
	// Server processes with simulated agents, no hub and no Unix account:
	// nothing another test shares, and most of the time is waiting.
	t.Parallel()
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			dsn := storetest.DSN(t, d)
			smtp := smtptest.Start(t)
			admin := setup(t, dsn, data)
			// The reminder goes out 12 s before the end: longer than a mail's
			// lease (--smtp-timeout + 5 s), so that a reminder caught in flight
			// by a kill is sent again before the end makes it moot.
			p := startPlatform(t, append(serverArgs(dsn, data, smtp), "--remind-before", "12s")...)
			p.admin = admin
			agentToken := p.prepare("24s", 5)
			op := &countingHost{counts: map[string]int{}, delay: 300 * time.Millisecond, started: make(chan *wod.AgentJob, 10)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			runAgent(t, ctx, p.base, agentToken, op)

			reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Short", "name": "Ann", "email": "ann@example.com"})
			id := int64(reg["id"].(float64))
			p.restart() // right after booking

			// In the middle of create: the agent's report finds the server down.
			<-op.started
			p.restart()
			p.waitState(id, wod.StateReady, 40*time.Second)
			p.restart() // ready, credentials possibly not sent yet
			p.waitState(id, wod.StateExpiring, 40*time.Second)
			p.restart() // reminded
			p.waitState(id, wod.StateEnding, 40*time.Second)
			p.restart() // cleanup scheduled
			final := p.waitState(id, wod.StateDone, 40*time.Second)
			p.restart() // done, goodbye possibly not sent yet

			if final["completion"].(float64) != 50 {
				t.Fatalf("completion %v", final["completion"])
			}
			// Count distinct Message-IDs: a mail in flight at a kill may
			// arrive twice, and its retry waits for the lease to end.
			smtp.WaitFor(t, "4 distinct mails to ann", 45*time.Second, func([]*smtptest.Message) bool {
				_, ids := mailsTo(smtp, "ann@example.com")
				return len(ids) >= 4
			})
			p.waitOutboxSettled(45 * time.Second) // anything sent twice has arrived by now
			subjects, ids := mailsTo(smtp, "ann@example.com")
			if len(ids) != 4 {
				t.Fatalf("%d distinct mails (%q), want welcome, credentials, reminder, goodbye once each", len(ids), subjects)
			}
			want := []string{"Acme Workshops-on-Demand", "credentials", "will end", "Thanks for participating"}
			for _, w := range want {
				n := 0
				for _, s := range subjects {
					if strings.Contains(s, w) {
						n++
					}
				}
				if n < 1 {
					t.Fatalf("no mail with %q in %q", w, subjects)
				}
			}
			for _, m := range smtp.Messages() {
				if !strings.Contains(m.Subject, "credentials") {
					continue
				}
				pw := fmt.Sprintf("pw-%d-student1", id)
				if m.From != "wod@acme.test" || m.Header.Get("Date") == "" || !strings.Contains(m.MessageID, "@acme.test") ||
					!strings.Contains(m.Text, pw) || !strings.Contains(m.HTML, pw) ||
					!strings.Contains(m.HTML, "http://hub.test/hub/login") || !strings.Contains(m.Text, p.base+"/status/") {
					t.Fatalf("credentials mail: from %q id %q\ntext: %s\nhtml: %s", m.From, m.MessageID, m.Text, m.HTML)
				}
			}
			if len(subjects) != len(ids) {
				t.Logf("a crash between the relay's acceptance and the bookkeeping sent a mail again, under the same Message-ID: %q", subjects)
			}
			if op.count(id, wod.JobCreate) != 1 || op.count(id, wod.JobCleanup) != 1 {
				t.Fatalf("operations: create %d, cleanup %d; want once each", op.count(id, wod.JobCreate), op.count(id, wod.JobCleanup))
			}
			seats := p.api("GET", "/api/v1/seats?state=assigned", nil)
			if seats["total"].(float64) != 0 {
				t.Fatalf("seats still assigned: %v", seats)
			}
			jobs := p.api("GET", "/api/v1/jobs?state=queued", nil)
			if jobs["total"].(float64) != 0 {
				t.Fatalf("jobs left queued: %v", jobs)
			}
		})
	}
}

// TestTwoServersShareTheWork runs two server processes on one PostgreSQL
// database, each with an agent: every timer and every operation runs once.
func TestTwoServersShareTheWork(t *testing.T) {
	t.Parallel() // as TestCrashAtEveryStep
	dsn := storetest.DSN(t, store.Postgres)
	data := t.TempDir()
	smtp := smtptest.Start(t)
	admin := setup(t, dsn, data)
	a := startPlatform(t, serverArgs(dsn, data, smtp)...)
	b := startPlatform(t, serverArgs(dsn, data, smtp)...)
	a.admin, b.admin = admin, admin
	agentToken := a.prepare("5s", 20)
	op := &countingHost{counts: map[string]int{}, delay: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runAgent(t, ctx, a.base, agentToken, op)
	runAgent(t, ctx, b.base, agentToken, op)

	const n = 12
	ids := make([]int64, n)
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		reg := srv.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Short", "name": "P",
			"email": fmt.Sprintf("p%d@example.com", i)})
		ids[i] = int64(reg["id"].(float64))
	}
	for _, id := range ids {
		a.waitState(id, wod.StateDone, 60*time.Second)
	}
	smtp.Wait(t, 4*n, 30*time.Second)
	a.waitOutboxSettled(30 * time.Second) // nothing more is on its way
	if got := len(smtp.Messages()); got != 4*n {
		t.Fatalf("%d mails for %d registrations, want exactly %d", got, n, 4*n)
	}
	for i, id := range ids {
		subjects, _ := mailsTo(smtp, fmt.Sprintf("p%d@example.com", i))
		if len(subjects) != 4 {
			t.Fatalf("registration %d received %q", id, subjects)
		}
		if op.count(id, wod.JobCreate) != 1 || op.count(id, wod.JobCleanup) != 1 {
			t.Fatalf("registration %d: create ran %d times, cleanup %d", id, op.count(id, wod.JobCreate), op.count(id, wod.JobCleanup))
		}
	}
	if seats := a.api("GET", "/api/v1/seats?state=assigned", nil); seats["total"].(float64) != 0 {
		t.Fatalf("seats still assigned: %v", seats)
	}
}
