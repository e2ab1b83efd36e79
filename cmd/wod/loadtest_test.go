package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wod-dev/wod/loadtest"
)

// The load test's seats: apart from the other tests' (9001-9003, 9101-,
// 9201).
const loadtestSeat = 9301

// TestLoadtest plays four participants against a real wod up whose
// workshop has three seats: three make it through every step, the fourth
// is told the workshop is full, and every session is ended after.
func TestLoadtest(t *testing.T) {
	p, _, _ := startRealPlatform(t, loadtestSeat, map[string]string{})
	defer p.stop()

	code, out, errOut := runWod(t, "", "loadtest", "--server", p.base, "--token", p.admin, "--workshop", "WKSHP-Welcome101",
		"-n", "4", "--code", "print(6*7)", "--think", "200ms", "--poll", "100ms", "--json", "--log-level", "error")
	if code != 1 || !strings.Contains(errOut, "1 of 4 participants failed") {
		t.Fatalf("exit %d, stderr %q, want 1 and one failure\n%s", code, errOut, out)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	// Every step but the waiting line's (nobody waited).
	if rep.Participants != 4 || rep.Succeeded != 3 || rep.Waited != 0 || len(rep.Stages) != len(loadtest.Stages)-1 {
		t.Fatalf("report: %s", out)
	}
	for _, s := range rep.Stages {
		failed := 0
		if s.Stage == loadtest.StageRegister {
			failed = 1
		}
		if s.OK != 3 || s.Failed != failed || s.P50 <= 0 || s.P50 > s.P90 || s.P90 > s.P99 || s.P99 > s.Max {
			t.Errorf("stage %+v", s)
		}
	}
	// What each of the three waited for, from registering to their notebook.
	if rep.ToOpen == nil || rep.ToOpen.OK != 3 || rep.ToOpen.P50 <= 0 || rep.ToOpen.Max < rep.ToOpen.P50 {
		t.Errorf("register → open: %+v", rep.ToOpen)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Stage != loadtest.StageRegister || !strings.Contains(rep.Errors[0].Error, "409 full") {
		t.Errorf("errors: %+v", rep.Errors)
	}
	// Every session ended: the seats are free, the registrations done.
	if seats := p.api("GET", "/api/v1/seats?state=assigned", nil); seats["total"].(float64) != 0 {
		t.Errorf("seats still assigned: %v", seats)
	}
	done := p.api("GET", "/api/v1/registrations?state=done", nil)
	if done["total"].(float64) != 3 {
		t.Errorf("done registrations: %v", done)
	}
	for _, it := range done["items"].([]any) {
		r := it.(map[string]any)
		if !strings.HasPrefix(r["email"].(string), fmt.Sprintf("wod-loadtest-%s-", rep.Run)) || r["company"] != "wod loadtest "+rep.Run {
			t.Errorf("a load test registration: %v", r)
		}
	}

	// The table, for people.
	code, out, _ = runWod(t, "", "loadtest", "--server", p.base, "--token", p.admin, "--workshop", "WKSHP-Welcome101",
		"-n", "1", "--code", "", "--poll", "100ms", "--log-level", "error")
	if code != 0 || !strings.Contains(out, "1 of 1 participants made it") || !strings.Contains(out, "login") ||
		!strings.Contains(out, "register→open") ||
		strings.Contains(out, "execute") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}
	// Waiting for a pool the workshop does not keep would wait forever:
	// refused at once, before anyone registers.
	if code, _, errOut := runWod(t, "", "loadtest", "--server", p.base, "--token", p.admin, "--workshop", "WKSHP-Welcome101",
		"--warm", "2"); code == 0 || !strings.Contains(errOut, "keeps 0 warm seats, not 2") {
		t.Fatalf("--warm on a workshop without a pool: %d %s", code, errOut)
	}
	if code, _, errOut := runWod(t, "", "loadtest", "--server", p.base, "--workshop", "WKSHP-Welcome101"); code == 0 ||
		!strings.Contains(errOut, "operator token") {
		t.Fatalf("without a token: %d %s", code, errOut)
	}
}
