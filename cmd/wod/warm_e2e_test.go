package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

// The first seats of TestWarmSeatEndToEnd's cases (each range is three
// seats from it, uids e2eUIDBase + N).
const (
	warmSeat         = 9351
	warmAccountSeat  = 9361
	warmBenchSeat    = 9371
	warmBenchSeatTop = 9390
)

// TestWarmSeatEndToEnd runs wod up with a real hub and the sample workshop
// with `warm: 1`: the pool fills (the seat's server runs before anyone
// registers), a registration is ready in the answer to its POST, the
// participant logs in and finds the notebooks with their seat's STDID and
// password, and the pool refills. With --warm-server=false the warm seat
// runs nothing until the participant logs in.
func TestWarmSeatEndToEnd(t *testing.T) {
	t.Run("server", func(t *testing.T) { testWarmSeat(t, warmSeat, true) })
	t.Run("account only", func(t *testing.T) { testWarmSeat(t, warmAccountSeat, false) })
}

func testWarmSeat(t *testing.T, first int, server bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p, hubURL, students := startRealPlatform(t, first, map[string]string{"ldap: false": "ldap: false\nwarm: 1"},
		fmt.Sprintf("--warm-server=%v", server))
	defer p.stop()

	// The highest seat of the range is warmed, server included.
	warm := waitWarm(ctx, t, p, 1)
	top := first + 2
	if warm[0] != fmt.Sprintf("student%d", top) {
		t.Fatalf("warm seats %v, want student%d", warm, top)
	}
	if pids := uidProcesses(e2eUIDBase + top); (len(pids) > 0) != server {
		t.Fatalf("the warm seat runs %v (server wanted: %v)", pids, server)
	}

	reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101", "name": "Ann", "email": "ann@example.com"})
	if reg["state"] != string(wod.StateReady) {
		t.Fatalf("the registration is not ready in its POST's answer: %v", reg)
	}
	id := int64(reg["id"].(float64))
	r := p.waitState(id, wod.StateReady, 5*time.Second)
	password, _ := r["password"].(string)
	username := r["username"].(string)
	if password == "" || username != fmt.Sprintf("student%d", top) {
		t.Fatalf("the warm registration: %v", r)
	}
	s := jupyterhub.NewParticipant(hubURL, username)
	if ok, err := s.Login(ctx, password); err != nil || !ok {
		t.Fatalf("login with the warm seat's password: %v %v", ok, err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	readme, err := s.Notebook(ctx, "WKSHP-Welcome101/0-ReadMeFirst.ipynb")
	if err != nil {
		out, _ := exec.Command("ls", "-laR", filepath.Join(students, username)).CombinedOutput()
		t.Fatalf("%v\nhome:\n%s\nwarm jobs: %v\nregistration: %v", err, out, p.api("GET", "/api/v1/jobs?kind=warm", nil), r)
	}
	nb, err := s.Notebook(ctx, "WKSHP-Welcome101/1-WKSHP-First-Steps.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal([]any{readme, nb})
	if !strings.Contains(string(raw), password) || !strings.Contains(string(raw), username) {
		t.Fatalf("the notebooks are not the seat's (password, student number): %s", raw)
	}

	// The pool refills from the free seats, one always left for a cold create.
	refilled := waitWarm(ctx, t, p, 1)
	if refilled[0] != fmt.Sprintf("student%d", top-1) {
		t.Fatalf("refilled with %v, want student%d", refilled, top-1)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	if !strings.Contains(metrics, `wod_warm_bookings_total{outcome="hit",workshop="WKSHP-Welcome101"} 1`) ||
		!strings.Contains(metrics, `wod_workshop_seats_warm{location="local",state="warm",workshop="WKSHP-Welcome101"} 1`) {
		t.Fatalf("the warm pool in /metrics:\n%s", grepLines(metrics, "warm"))
	}
}

// waitWarm waits until n seats are warm and returns their user names.
func waitWarm(ctx context.Context, t *testing.T, p *platform, n int) []string {
	t.Helper()
	for {
		seats := p.api("GET", "/api/v1/seats?state=warm", nil)
		var names []string
		items, _ := seats["items"].([]any)
		for _, it := range items {
			names = append(names, it.(map[string]any)["username"].(string))
		}
		if len(names) == n {
			return names
		}
		select {
		case <-ctx.Done():
			failed := p.api("GET", "/api/v1/jobs?kind=warm", nil)
			t.Fatalf("%d warm seats, want %d; warm jobs: %v\n%s", len(names), n, failed, p.logs)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
