package legacy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/legacy/apidbtest"
)

const base = 100 // the backend's basestdid

// operator stands in for the host operations (tested in package agent):
// it records the jobs, refuses to run two of one student at once, and
// fails as told.
type operator struct {
	mu      sync.Mutex
	jobs    []wod.AgentJob
	running map[int]bool
	overlap bool
	failing map[string]int // "create/3": failures left (-1: always)
	onRun   func(*wod.AgentJob)
}

func (o *operator) Run(ctx context.Context, j *wod.AgentJob) (agent.Outcome, error) {
	if o.onRun != nil {
		o.onRun(j)
	}
	o.mu.Lock()
	if o.running == nil {
		o.running = map[int]bool{}
	}
	if o.running[j.StudentNumber] {
		o.overlap = true
	}
	o.running[j.StudentNumber] = true
	o.jobs = append(o.jobs, *j)
	key := fmt.Sprintf("%s/%d", j.Kind, j.StudentNumber)
	fail := o.failing[key]
	if fail > 0 {
		o.failing[key]--
	}
	o.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // long enough for another worker to try the same student
	o.mu.Lock()
	delete(o.running, j.StudentNumber)
	o.mu.Unlock()
	if fail != 0 {
		return agent.Outcome{Output: "hook said no"}, fmt.Errorf("%s failed", key)
	}
	switch j.Kind {
	case wod.JobCreate:
		return agent.Outcome{Password: fmt.Sprintf("pw-%d-%d", j.StudentNumber, j.Attempt)}, nil
	case wod.JobCleanup:
		c := 40
		out := agent.Outcome{Completion: &c}
		if j.ReportPassword {
			out.Password = fmt.Sprintf("locked-%d-%d", j.StudentNumber, j.Attempt)
		}
		return out, nil
	}
	return agent.Outcome{}, nil
}

func (o *operator) kinds(student int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, j := range o.jobs {
		if j.StudentNumber == student {
			out = append(out, string(j.Kind))
		}
	}
	return out
}

func (o *operator) job(kind wod.JobKind, student int) *wod.AgentJob {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.jobs {
		if o.jobs[i].Kind == kind && o.jobs[i].StudentNumber == student {
			return &o.jobs[i]
		}
	}
	return nil
}

func workshops() []legacy.Workshop {
	return []legacy.Workshop{
		{ID: 1, Name: "API 101", Notebook: "WKSHP-API101", Location: "other.test", Range: []int{1, 20}},
		{ID: 2, Name: "API 101", Notebook: "WKSHP-API101", Location: "backend.test", Compile: "null", Range: []int{1, 5}},
		{ID: 3, Name: "Appliances", Notebook: "WKSHP-Appliance", Location: "backend.test", Reset: true,
			Compile: "secret.sh, token.sh", MultiAppliance: true, Range: []int{6, 10}},
	}
}

type rig struct {
	api    *apidbtest.Server
	spool  *legacy.Spool
	op     *operator
	bridge *legacy.Bridge
	stop   func()
}

func newRig(t *testing.T, api *apidbtest.Server, spool *legacy.Spool, op *operator) *rig {
	t.Helper()
	b := &legacy.Bridge{Spool: spool, API: &legacy.APIDB{URL: api.URL, User: api.User, Password: api.Password},
		BaseStudentID: base, Students: 20, Location: "backend.test", MaxAttempts: 3, Retry: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	r := &agent.Runner{Server: b, Operator: op, Workers: 4, ClaimWait: 200 * time.Millisecond, HeartbeatEvery: time.Hour,
		Logger: b.Logger}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return &rig{api: api, spool: spool, op: op, bridge: b, stop: stop}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func add(t *testing.T, s *legacy.Spool, b *legacy.Bridge, cmds ...legacy.Command) {
	t.Helper()
	for _, c := range cmds {
		if err := s.Add(&legacy.Entry{Command: c, ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if b != nil {
		b.Notify()
	}
}

// drained waits until the spool holds no pending entry.
func drained(t *testing.T, s *legacy.Spool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		es, _ := s.Entries()
		if len(es) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, e := range es {
				t.Logf("left: %+v", e)
			}
			t.Fatalf("%d entries still in the spool", len(es))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func puts(api *apidbtest.Server, prefix string) []map[string]string {
	var out []map[string]string
	for _, p := range api.Puts() {
		if p.Path == prefix {
			out = append(out, p.Fields)
		}
	}
	return out
}

// The original's life of a registration, as its api-db mails it: the
// operations run in order per student and the api-db hears what
// procmail-action.sh would have told it.
func TestBridgeLives(t *testing.T) {
	api := apidbtest.New(t, workshops(), base, 20)
	spool := newSpool(t)
	op := &operator{}
	r := newRig(t, api, spool, op)
	add(t, spool, r.bridge,
		legacy.Command{Verb: legacy.Create, Student: 1, Customer: 10, Notebook: "WKSHP-API101"},
		legacy.Command{Verb: legacy.Create, Student: 6, Customer: 11, Notebook: "CHLG-Appliance"},
		legacy.Command{Verb: legacy.Cleanup, Student: 1, Customer: 10, Notebook: "WKSHP-API101"},
		legacy.Command{Verb: legacy.Cleanup, Student: 6, Customer: 11, Notebook: "CHLG-Appliance"},
		legacy.Command{Verb: legacy.Purge, Student: 1, Customer: 10, Notebook: "WKSHP-API101"},
		legacy.Command{Verb: legacy.Reset, Student: 6, Customer: 11, Notebook: "CHLG-Appliance"},
	)
	drained(t, spool)

	if got := op.kinds(1); !slices.Equal(got, []string{"create", "cleanup", "purge"}) {
		t.Errorf("student 1 ran %v", got)
	}
	if got := op.kinds(6); !slices.Equal(got, []string{"create", "cleanup", "reset"}) {
		t.Errorf("student 6 ran %v", got)
	}
	if op.overlap {
		t.Error("two operations of one student ran at once")
	}
	j := op.job(wod.JobCreate, 6)
	if j.Workshop != "WKSHP-Appliance" || j.SessionType != wod.SessionChallenge || !j.Reset || j.SeatMin != 6 ||
		j.Appliance != wod.ApplianceMulti || !slices.Equal(j.Compile, []string{"secret.sh", "token.sh"}) ||
		j.StudentID != base+6 || j.Username != "student6" || j.RegistrationID != 11 {
		t.Errorf("create job of student 6: %+v", j)
	}
	// The workshop of this backend's location, not the other one's.
	if j := op.job(wod.JobCreate, 1); j.SeatMin != 1 || len(j.Compile) != 0 || j.Reset || j.Appliance != "" {
		t.Errorf("create job of student 1: %+v", j)
	}

	want := map[string][]map[string]string{
		// CLEANUP reports the password it rotated, as procmail-action.sh does.
		"/api/student/101": {{"password": "pw-1-1"}, {"password": "locked-1-1"}, {"assigned": "false"}, {"assigned": "false"}},
		"/api/customer/10": {{"active": "true"}, {"completionPercentage": "40"}, {"cleaned": "true"}},
		// A reset workshop keeps the seat for its RESET.
		"/api/student/106": {{"password": "pw-6-1"}, {"password": "locked-6-1"}, {"assigned": "true"}, {"assigned": "false"}},
		"/api/customer/11": {{"active": "true"}, {"completionPercentage": "40"}, {"active": "false"}, {"cleaned": "true"}},
	}
	for path, w := range want {
		if got := puts(api, path); !reflect.DeepEqual(got, w) {
			t.Errorf("PUT %s: %v, want %v", path, got, w)
		}
	}
	if n := api.Logins(); n != 1 {
		t.Errorf("%d logins: a token serves until it expires", n)
	}
}

func TestBridgeRetriesAndGivesUp(t *testing.T) {
	api := apidbtest.New(t, workshops(), base, 20)
	spool := newSpool(t)
	op := &operator{failing: map[string]int{"create/2": 2, "create/3": -1}}
	r := newRig(t, api, spool, op)
	add(t, spool, r.bridge,
		legacy.Command{Verb: legacy.Create, Student: 2, Customer: 20, Notebook: "WKSHP-API101"},
		legacy.Command{Verb: legacy.Create, Student: 3, Customer: 21, Notebook: "WKSHP-API101"},
		legacy.Command{Verb: legacy.Cleanup, Student: 3, Customer: 21, Notebook: "WKSHP-API101"},
		// Permanent problems are given up at once.
		legacy.Command{Verb: legacy.Create, Student: 4, Customer: 22, Notebook: "WKSHP-Nowhere"},
		legacy.Command{Verb: legacy.Create, Student: 21, Customer: 23, Notebook: "WKSHP-API101"},
		// A PURGE goes ahead without its workshop.
		legacy.Command{Verb: legacy.Purge, Student: 5, Customer: 24, Notebook: "WKSHP-Gone"},
	)
	drained(t, spool)

	if got := op.kinds(2); !slices.Equal(got, []string{"create", "create", "create"}) {
		t.Errorf("student 2 ran %v, want two failures then a success", got)
	}
	if got := puts(api, "/api/student/102"); !reflect.DeepEqual(got, []map[string]string{{"password": "pw-2-3"}}) {
		t.Errorf("student 2's password: %v", got)
	}
	// Student 3's create failed for good; its cleanup ran after it.
	if got := op.kinds(3); !slices.Equal(got, []string{"create", "create", "create", "cleanup"}) {
		t.Errorf("student 3 ran %v", got)
	}
	if got := op.kinds(5); !slices.Equal(got, []string{"purge"}) {
		t.Errorf("student 5 ran %v", got)
	}
	if len(op.kinds(4)) != 0 || len(op.kinds(21)) != 0 {
		t.Errorf("ran what cannot run: %v %v", op.kinds(4), op.kinds(21))
	}
	failed, err := os.ReadDir(filepath.Join(spool.Dir, "failed"))
	if err != nil || len(failed) != 3 {
		t.Fatalf("failed directory: %v %v", failed, err)
	}
	var reasons []string
	for _, f := range failed {
		var e legacy.Entry
		b, _ := os.ReadFile(filepath.Join(spool.Dir, "failed", f.Name()))
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, fmt.Sprintf("%d:%d:%s", e.Command.Student, e.Attempts, e.LastError))
	}
	slices.Sort(reasons)
	want := []string{
		"21:0:student 21 is outside this backend's 20 students: cannot be run",
		"3:3:create/3 failed",
		"4:0:notebook WKSHP-Nowhere: the api-db has no workshop of that notebook: cannot be run",
	}
	if !slices.Equal(reasons, want) {
		t.Errorf("failed entries:\n%q\nwant\n%q", reasons, want)
	}
}

// An outcome the api-db could not take is kept and sent again, after a
// restart too, without running the operation again; an expired token is
// renewed.
func TestBridgeDeliversAfterOutage(t *testing.T) {
	api := apidbtest.New(t, workshops(), base, 20)
	spool := newSpool(t)
	cleanupRuns := make(chan struct{})
	op := &operator{onRun: func(j *wod.AgentJob) {
		if j.Kind == wod.JobCleanup {
			api.SetDown(true) // the cleanup runs; its outcome meets an outage
			close(cleanupRuns)
		}
	}}
	r := newRig(t, api, spool, op)
	add(t, spool, r.bridge, legacy.Command{Verb: legacy.Create, Student: 7, Customer: 30, Notebook: "WKSHP-API101"})
	drained(t, spool)
	api.ExpireTokens()
	api.SetDown(true)
	refused := api.Refused()
	add(t, spool, r.bridge, legacy.Command{Verb: legacy.Cleanup, Student: 7, Customer: 30, Notebook: "WKSHP-API101"})
	// The api-db is down: the cleanup cannot even start (its workshop is
	// unknown) until it is back. Two refused tries (the first and one
	// after its backoff) without running it.
	deadline := time.Now().Add(10 * time.Second)
	for api.Refused() < refused+2 {
		if time.Now().After(deadline) {
			t.Fatalf("the bridge did not try the api-db while it was down (%d refused)", api.Refused()-refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := op.kinds(7); !slices.Equal(got, []string{"create"}) {
		t.Fatalf("ran %v while the api-db was down", got)
	}
	api.SetDown(false)
	<-cleanupRuns
	deadline = time.Now().Add(10 * time.Second)
	for {
		es, _ := spool.Entries()
		if len(es) == 1 && es[0].Result != nil && es[0].LastError != "" {
			break // ran, not delivered
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool after the outage: %+v", es)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop()

	// Restart: the outcome is delivered, the cleanup does not run again.
	api.SetDown(false)
	newRig(t, api, spool, op)
	drained(t, spool)
	if got := op.kinds(7); !slices.Equal(got, []string{"create", "cleanup"}) {
		t.Errorf("student 7 ran %v", got)
	}
	if got := puts(api, "/api/customer/30"); !reflect.DeepEqual(got, []map[string]string{
		{"active": "true"}, {"completionPercentage": "40"}, {"cleaned": "true"}}) {
		t.Errorf("customer 30: %v", got)
	}
	if n := api.Logins(); n < 2 {
		t.Errorf("%d logins: the expired token was not renewed", n)
	}
}

func TestBridgeHeldSeats(t *testing.T) {
	api := apidbtest.New(t, workshops(), base, 20)
	spool := newSpool(t)
	b := &legacy.Bridge{Spool: spool, API: &legacy.APIDB{URL: api.URL, User: api.User, Password: api.Password},
		BaseStudentID: base, Students: 20}
	api.SetAssigned(base+3, true)
	api.SetAssigned(base+9, true)
	add(t, spool, nil, legacy.Command{Verb: legacy.Create, Student: 12, Customer: 1, Notebook: "WKSHP-API101"})
	held, err := b.HeldSeats(context.Background())
	slices.Sort(held)
	if err != nil || !slices.Equal(held, []int{3, 9, 12}) {
		t.Fatalf("held %v, %v", held, err)
	}
	api.SetDown(true)
	if _, err := b.HeldSeats(context.Background()); err == nil {
		t.Fatal("held seats without the api-db: the guard must not act on a guess")
	}
	// A wrong password is a clear error.
	b.API = &legacy.APIDB{URL: api.URL, User: api.User, Password: "wrong"}
	api.SetDown(false)
	if _, err := b.HeldSeats(context.Background()); err == nil || !strings.Contains(err.Error(), "api-db login as moderator: 401") {
		t.Fatalf("wrong password: %v", err)
	}
}
