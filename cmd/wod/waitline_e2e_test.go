package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/loadtest"
)

// waitlineSeat is the first of the waiting line's seats (9401-9403): apart
// from the other tests'.
const waitlineSeat = 9401

// TestWaitingLine plays the waiting line on a real wod up with a real hub,
// on a workshop of capacity 1: A registers, B finds it full and waits (202,
// place 1), C waits too and leaves the line from the status page; A ends
// now and in the same transaction B gets the seat, then the credentials
// mail ("your seat is ready"), and logs in to the hub. Last, wod loadtest
// --wait puts two participants through the one seat, the second after
// standing in line. Where Chromium is installed, B's and C's status pages
// are driven in it: place and estimate shown, the page turning ready by
// itself, the leave button.
func TestWaitingLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, hubURL, _ := startRealPlatform(t, waitlineSeat, map[string]string{"capacity: 20": "capacity: 1"})
	defer p.stop()
	const ws = "WKSHP-Welcome101"

	regA := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": ws, "name": "Ann", "email": "ann@example.com"})
	idA := int64(regA["id"].(float64))
	p.waitState(idA, wod.StateReady, 90*time.Second)

	// B: full, so 409 with can_wait; with "wait", 202, waiting, place 1.
	status, body := p.post("/api/v1/registrations", map[string]any{"workshop": ws, "name": "Bob", "email": "bob@example.com"})
	if status != http.StatusConflict || body["code"] != "full" || body["can_wait"] != true {
		t.Fatalf("full: %d %v", status, body)
	}
	status, body = p.post("/api/v1/registrations", map[string]any{"workshop": ws, "name": "Bob", "email": "bob@example.com", "wait": true})
	if status != http.StatusAccepted || body["state"] != "waiting" || body["place"] != float64(1) || body["estimated_at"] == nil {
		t.Fatalf("wait: %d %v", status, body)
	}
	idB, statusB := int64(body["id"].(float64)), body["status_url"].(string)
	status, body = p.post("/api/v1/registrations", map[string]any{"workshop": ws, "name": "Cy", "email": "cy@example.com", "wait": true})
	if status != http.StatusAccepted || body["place"] != float64(2) {
		t.Fatalf("second waiter: %d %v", status, body)
	}
	idC, statusC := int64(body["id"].(float64)), body["status_url"].(string)

	var phone *tab
	if chromium := chromiumIfAny(t); chromium != "" {
		b := startBrowser(t, chromium, p, artifactsDir(t))
		phone = b.tab("waiter", 390, 844, true)
		phone.navigate(statusB)
		phone.waitVisible(`#state[data-state="waiting"]`)
		if place, est := phone.text("#place"), phone.text("#estimate"); place != "number 1" || !strings.Contains(est, "We expect your seat around") {
			t.Fatalf("B's status page: place %q, estimate %q", place, est)
		}
		phone.shot("waitline-01-waiting")
		other := b.tab("leaver", 390, 844, true)
		other.navigate(statusC)
		if place := other.text("#place"); place != "number 2" {
			t.Fatalf("C's place: %q", place)
		}
		if status := other.submit("#leave-line"); status != 200 {
			t.Fatalf("leave: status %d", status)
		}
		other.waitVisible("#left")
		phone.markPage()
		defer b.checkClean()
	} else {
		// No browser: C leaves through the API.
		if status, body := p.post(strings.Replace(statusC, "/status/", "/api/v1/status/", 1)+"/leave", nil); status != 200 || body["state"] != "left" {
			t.Fatalf("leave: %d %v", status, body)
		}
	}
	if r := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", idC), nil); r["state"] != "left" {
		t.Fatalf("C after leaving: %v", r["state"])
	}

	// A ends now: the seat is B's at once, B's create runs, B is ready.
	p.api("POST", fmt.Sprintf("/api/v1/registrations/%d/end", idA), nil)
	rB := p.waitState(idB, wod.StateReady, 90*time.Second)
	if rB["username"] != fmt.Sprintf("student%d", waitlineSeat) || rB["seated_at"] == nil || rB["waiting_since"] == nil {
		t.Fatalf("B's seat: %v", rB)
	}
	if phone != nil {
		phone.waitLive(`#state[data-state="ready"]`)
		phone.waitVisible("#password")
		phone.checkMark()
		if pw := phone.text("#password"); pw != rB["password"] {
			t.Fatalf("B's page shows password %q", pw)
		}
		phone.shot("waitline-02-seat-ready")
	}
	// B's mails: one waiting, one credentials worded "your seat is ready".
	p.waitOutboxSettled(30 * time.Second)
	mails := p.api("GET", fmt.Sprintf("/api/v1/mails?registration=%d", idB), nil)["items"].([]any)
	kinds := map[string]int{}
	for _, it := range mails {
		m := it.(map[string]any)
		kinds[m["kind"].(string)]++
		if m["kind"] == "credentials" && !strings.Contains(m["subject"].(string), "your seat is ready") {
			t.Errorf("credentials subject: %q", m["subject"])
		}
	}
	if kinds["waiting"] != 1 || kinds["credentials"] != 1 || len(mails) != 2 {
		t.Fatalf("B's mails: %v", kinds)
	}
	// B logs in to the hub with the credentials.
	b := jupyterhub.NewParticipant(hubURL, rB["username"].(string))
	if ok, err := b.Login(ctx, rB["password"].(string)); err != nil || !ok {
		t.Fatalf("B's login: %v %v", ok, err)
	}
	// and reaches their server (pre-started by the create) before ending.
	if err := b.Open(ctx); err != nil {
		t.Fatalf("B's server: %v", err)
	}
	p.api("POST", fmt.Sprintf("/api/v1/registrations/%d/end", idB), nil)
	p.waitState(idB, wod.StateDone, 90*time.Second)

	// wod loadtest --wait: two participants, one seat; the second stands in line.
	code, out, errOut := runWod(t, "", "loadtest", "--server", p.base, "--token", p.admin, "--workshop", ws, "--wait",
		"-n", "2", "--code", "", "--poll", "100ms", "--json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("loadtest --wait: exit %d\n%s\n%s", code, out, errOut)
	}
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if rep.Succeeded != 2 || rep.Waited != 1 {
		t.Fatalf("report: %s", out)
	}
	found := false
	for _, s := range rep.Stages {
		if s.Stage == loadtest.StageWait {
			found = s.OK == 1 && s.Max > 0
		}
	}
	if !found {
		t.Fatalf("no time in line in the report: %s", out)
	}
}

// post sends an operator's POST and returns the status and the body,
// whatever the status.
func (p *platform) post(path string, in any) (int, map[string]any) {
	p.t.Helper()
	var b []byte
	if in != nil {
		b, _ = json.Marshal(in)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = p.base + path
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// chromiumIfAny is Chromium's path, or "" when it is not installed and
// not required (the browser steps are left out, not the test).
func chromiumIfAny(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatalf("the waiting line's browser steps need Chromium at %s; %s=1 makes this a failure", chromiumPath, requireBrowserEnv)
	}
	t.Logf("Chromium is not installed: the status pages are checked through the API only")
	return ""
}
