package rehearsal_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/rehearsal"
	"github.com/wod-dev/wod/rehearsal/rehearsaltest"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/testenv"
)

// Seats 9050-9053 with uid base 55150: uids 64200-64203, this package's,
// above 63999: a wod up of cmd/wod's tests guards uids 52001–61203 and kills what has no registration.
const (
	uidBase   = 55150
	firstSeat = 9050
	lastSeat  = 9053
)

// nopHub stands for JupyterHub, which the FSExecutor does not reach: the
// hub's part of create and cleanup is tested with the real hub elsewhere.
type nopHub struct{}

func (nopHub) EnsureUser(context.Context, string) error  { return nil }
func (nopHub) DeleteUser(context.Context, string) error  { return nil }
func (nopHub) StartServer(context.Context, string) error { return nil }
func (nopHub) StopServer(context.Context, string) error  { return nil }

type world struct {
	db     *store.DB
	eng    *engine.Engine
	runner *rehearsal.Runner
	exec   *rehearsaltest.FSExecutor
	ctx    context.Context
}

func notebook(kernel string, cells ...string) string {
	var cs []string
	for _, c := range cells {
		if strings.HasPrefix(c, "#md ") {
			cs = append(cs, fmt.Sprintf(`{"cell_type":"markdown","metadata":{},"source":[%q]}`, c[4:]))
			continue
		}
		md := "{}"
		if strings.Contains(c, "# skip") {
			md = `{"tags":["skip-rehearsal"]}`
		}
		cs = append(cs, fmt.Sprintf(`{"cell_type":"code","execution_count":null,"metadata":%s,"outputs":[],"source":[%q]}`, md, c))
	}
	return fmt.Sprintf(`{"nbformat":4,"nbformat_minor":5,"metadata":{"kernelspec":{"name":%q}},"cells":[%s]}`,
		kernel, strings.Join(cs, ","))
}

// newWorld runs a real engine, store and agent (accounts, homes, rendered
// notebooks, cleanup with the completion) on this machine, as root.
func newWorld(t *testing.T) *world {
	t.Helper()
	testenv.Root(t, "the rehearsal's seat is a real Unix account")
	for _, cmd := range []string{"useradd", "userdel", "groupadd", "groupdel", "chpasswd"} {
		testenv.Command(t, testenv.RequireRoot, cmd, "the passwd package")
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := storetest.Open(t, store.SQLite, wod.SystemClock{})
	keys, err := secret.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer(mail.Branding{Name: "Acme", From: "wod@acme.test", PortalURL: "http://wod.test/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := &engine.Engine{Store: db, Policy: emailpolicy.New(nil, nil), Composer: renderer, Keys: keys,
		Clock: wod.SystemClock{}, Logger: logger, PublicURL: "http://wod.test", ProvisionTimeout: 2 * time.Minute,
		RemindBefore: time.Hour, AgentLease: time.Minute, Worker: "test"}
	loc := &wod.Location{Name: "local", HubURL: "http://hub.test", Students: lastSeat}
	if err := db.CreateLocation(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, &wod.User{Username: "ops", Email: "ops@acme.test", Role: wod.RoleAdmin, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}

	contentDir := t.TempDir()
	for slug, nbs := range map[string]map[string]string{
		"WKSHP-Green": {
			"0-ReadMe.ipynb": notebook("python3", "#md Welcome", "print('hello')"),
			"1-Work.ipynb":   notebook("bash", "echo one", "#md Next", "echo two"),
		},
		"WKSHP-Broken": {"1-Work.ipynb": notebook("python3", "x = 1", "1/0", "print(x)")},
		"WKSHP-Skips":  {"1-Work.ipynb": notebook("python3", "x = 1", "input() # skip")},
		"WKSHP-Tiny":   {"1-Work.ipynb": notebook("python3", "x = 1")},
	} {
		for name, text := range nbs {
			os.MkdirAll(filepath.Join(contentDir, slug), 0o755)
			if err := os.WriteFile(filepath.Join(contentDir, slug, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		min, max := firstSeat, lastSeat
		if slug == "WKSHP-Tiny" {
			min = lastSeat // one seat: never one to spare
		}
		w := &wod.Workshop{Slug: slug, Title: slug, Duration: wod.Duration(time.Hour), Capacity: 4, SeatMin: min,
			SeatMax: max, LocationID: loc.ID, Active: true, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
		if err := db.CreateWorkshop(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	// Not under t.TempDir(): its 0700 parent would keep students out of their homes.
	top, err := os.MkdirTemp("", "wod-rehearsal")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o755)
	host := &agent.Host{Root: filepath.Join(top, "student"), UIDBase: uidBase, GIDBase: uidBase, Group: "wodtest-rehearsal"}
	op := &agent.HubOperator{Host: host, Hub: nopHub{},
		Workshops: &agent.ContentWorkshops{Dirs: []string{contentDir}, Renderer: content.NewRenderer()},
		Hooks:     &agent.Hooks{Dirs: []string{contentDir}, Timeout: time.Minute},
		StateDir:  t.TempDir(), Logger: logger}
	ar := &agent.Runner{Server: &agent.Local{Service: eng, LocationID: loc.ID, Name: "agent@local"}, Operator: op,
		Logger: logger, Workers: 2, ClaimWait: time.Second, HeartbeatEvery: time.Second}
	x := &rehearsaltest.FSExecutor{Root: host.Root, Fail: "1/0"}
	runner := &rehearsal.Runner{Store: db, Engine: eng, Executor: x, Notebooks: rehearsal.ContentNotebooks([]string{contentDir}),
		Clock: wod.SystemClock{}, Logger: logger, ReadyTimeout: time.Minute, CleanupTimeout: time.Minute}
	var wg sync.WaitGroup
	wg.Go(func() { eng.Run(ctx) })
	wg.Go(func() { ar.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for n := firstSeat; n <= lastSeat; n++ {
			host.RemoveAccount(context.Background(), n)
		}
		exec.Command("groupdel", host.Group).Run()
		os.RemoveAll(top)
	})
	return &world{db: db, eng: eng, runner: runner, exec: x, ctx: ctx}
}

func (w *world) rehearse(t *testing.T, slug string) *wod.Rehearsal {
	t.Helper()
	h, err := w.runner.Rehearse(w.ctx, slug, "ops")
	if err != nil {
		t.Fatalf("rehearse %s: %v", slug, err)
	}
	return h
}

func (w *world) seatFree(t *testing.T, h *wod.Rehearsal) {
	t.Helper()
	r, err := w.db.FindRegistration(w.ctx, *h.RegistrationID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != wod.StateDone || r.SeatHeld {
		t.Fatalf("the robot's seat: %s, held %v", r.State, r.SeatHeld)
	}
	ms, _, err := w.db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID})
	if err != nil || len(ms) != 0 {
		t.Fatalf("the robot got mail: %v %v", ms, err)
	}
}

func alerts(t *testing.T, db *store.DB) []*wod.Mail {
	kind := wod.MailAlert
	ms, _, err := db.FindMails(context.Background(), wod.MailFilter{Kind: &kind})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestRehearsals(t *testing.T) {
	w := newWorld(t)

	// A workshop whose cells all run: passed, 100 % measured at cleanup.
	h := w.rehearse(t, "WKSHP-Green")
	if h.State != wod.RehearsalPassed || h.Error != "" || h.Completion == nil || *h.Completion != 100 {
		t.Fatalf("green: %s %q completion %v", h.State, h.Error, h.Completion)
	}
	if len(h.Notebooks) != 2 || h.Notebooks[0].Path != "WKSHP-Green/0-ReadMe.ipynb" || h.Notebooks[1].Kernel != "bash" ||
		len(h.Notebooks[1].Cells) != 2 || h.Notebooks[1].Cells[1].Index != 2 {
		t.Fatalf("green's notebooks: %+v", h.Notebooks)
	}
	calls := w.exec.Calls()
	if len(calls) != 1 || calls[0].Username != fmt.Sprintf("student%d", lastSeat) || calls[0].Password == "" ||
		calls[0].HubURL != "http://hub.test" || calls[0].Options.Input != "1" || calls[0].Options.CellTimeout != 2*time.Minute {
		t.Fatalf("executor calls: %+v", calls)
	}
	w.seatFree(t, h)

	// A failing cell, at the right cell; the completion is not required then.
	h = w.rehearse(t, "WKSHP-Broken")
	nb, c := h.FirstFailure()
	if h.State != wod.RehearsalFailed || nb == nil || c == nil || c.Index != 1 || !strings.Contains(h.Error, "cell 1") {
		t.Fatalf("broken: %s %q %+v", h.State, h.Error, h.Notebooks)
	}
	w.seatFree(t, h)
	var report strings.Builder
	if err := rehearsal.WriteReport(&report, h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WKSHP-Broken: rehearsal", " failed", "WKSHP-Broken/1-Work.ipynb  1     error",
		"Exception: the cell holds 1/0", "WKSHP-Broken/1-Work.ipynb  0     ok", "error: 1 failed (first: WKSHP-Broken/1-Work.ipynb, cell 1"} {
		if !strings.Contains(report.String(), want) {
			t.Fatalf("the report has no %q:\n%s", want, report.String())
		}
	}
	// It never passed: no regression to alert about.
	if a := alerts(t, w.db); len(a) != 0 {
		t.Fatalf("alerts: %v", a)
	}

	// Skipped cells hold the rehearsal to what ran: 1 of 2 cells, 50 %.
	h = w.rehearse(t, "WKSHP-Skips")
	if h.State != wod.RehearsalPassed || h.Notebooks[0].Cells[1].Status != wod.CellSkipped || *h.Completion != 50 {
		t.Fatalf("skips: %s %q %+v completion %v", h.State, h.Error, h.Notebooks, *h.Completion)
	}

	// Every cell ran but the work was not saved: the completion check fails
	// it, and the workshop that passed now fails: the operators hear of it.
	w.exec.NoSave = true
	h = w.rehearse(t, "WKSHP-Green")
	w.exec.NoSave = false
	if h.State != wod.RehearsalFailed || !strings.Contains(h.Error, "completion measured at cleanup is 0 %, not 100 %") {
		t.Fatalf("unsaved: %s %q", h.State, h.Error)
	}
	a := alerts(t, w.db)
	if len(a) != 1 || a[0].To != "ops@acme.test" || !strings.Contains(a[0].Text, "WKSHP-Green passed its rehearsal") {
		t.Fatalf("regression alert: %+v", a)
	}

	// No seat to spare: the operator's request says so, and leaves nothing.
	_, err := w.runner.Start(w.ctx, "WKSHP-Tiny", "ops")
	if wod.ErrorCode(err) != wod.EFULL || !strings.Contains(err.Error(), "no free seat") {
		t.Fatalf("tiny: %v", err)
	}
	if hs, err := w.db.FindRehearsals(w.ctx, "WKSHP-Tiny", 10); err != nil || len(hs) != 0 {
		t.Fatalf("tiny's rehearsals: %v %v", hs, err)
	}

	last, err := w.db.LastRehearsals(w.ctx)
	if err != nil || last["WKSHP-Green"].State != wod.RehearsalFailed || last["WKSHP-Skips"].State != wod.RehearsalPassed {
		t.Fatalf("last: %v %v", last, err)
	}
}

// TestSweep: a rehearsal whose runner died (a restart mid-run) is failed
// and its seat cleaned up, not left running.
func TestSweep(t *testing.T) {
	w := newWorld(t)
	h := &wod.Rehearsal{Workshop: "WKSHP-Green", RequestedBy: "ops"}
	if err := w.db.CreateRehearsal(w.ctx, h); err != nil {
		t.Fatal(err)
	}
	reg, err := w.eng.RegisterRehearsal(w.ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	// Not stale yet: left alone.
	if err := w.runner.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.db.FindRehearsal(w.ctx, h.ID); got.State != wod.RehearsalRunning {
		t.Fatalf("a fresh rehearsal was swept: %s", got.State)
	}
	w.runner.Clock = laterClock{rehearsal.StaleAfter + time.Minute}
	if err := w.runner.Sweep(w.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := w.db.FindRehearsal(w.ctx, h.ID)
	if err != nil || got.State != wod.RehearsalFailed || !strings.Contains(got.Error, "interrupted") {
		t.Fatalf("swept: %+v %v", got, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := w.db.FindRegistration(w.ctx, reg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !r.SeatHeld && (r.State == wod.StateDone || r.State == wod.StateFailed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the swept rehearsal's seat: %s, held %v", r.State, r.SeatHeld)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type laterClock struct{ by time.Duration }

func (c laterClock) Now() time.Time { return time.Now().Add(c.by) }

// TestSchedule: with a period under a day, a due workshop is rehearsed at
// once by the schedule, one at a time at the location.
func TestSchedule(t *testing.T) {
	w := newWorld(t)
	w.runner.Every = time.Hour
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() { w.runner.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		last, err := w.db.LastRehearsals(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		var finished *wod.Rehearsal
		for _, h := range last {
			if h.State == wod.RehearsalRunning {
				running++
			} else {
				finished = h
			}
		}
		if running > 1 {
			t.Fatalf("%d rehearsals run at once at one location", running)
		}
		if finished != nil {
			if finished.RequestedBy != rehearsal.ScheduleActor || finished.RegistrationID == nil {
				t.Fatalf("scheduled: %+v", finished)
			}
			w.seatFree(t, finished)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled rehearsal finished: %v", last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
