package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

// The two locations of TestTwoHubs: wod up's "local" (uid base e2eUIDBase)
// and a second agent's "hub2" with its own managed hub, students' root and
// uid base. One machine has one account per name, so each location uses a
// seat range of its own for the workshop (hub2:first-last), and hub2's uid
// base puts its students at uids 64400 and up.
const (
	multiFirst    = 9501 // local: 9501..9506
	multiHub2     = 9507 // hub2: 9507..9512
	multiLast     = 9512
	multiHub2Base = 64400 - multiHub2
)

// TestTwoHubs: one workshop offered by two real agents with two managed
// JupyterHubs on this machine. A burst spreads over both and each agent
// prepares its share; with hub2's agent stopped, the registration placed
// there moves to local and local's agent prepares it, and new participants
// go to local. Nothing is lost or doubled: every participant gets one
// welcome and one credentials mail, and holds one seat, at the location
// whose hub the credentials name.
func TestTwoHubs(t *testing.T) {
	p, hubURL, _ := startRealPlatformContent(t, multiFirst, map[string]string{}, nil,
		"--students", fmt.Sprint(multiHub2-1), "--agent-stale", "4s", "--agent-heartbeat", "1s",
		"--provision-timeout", "2m", "--registration-rate", "0")
	defer p.stop()
	t.Cleanup(func() { removeStudents(t, multiFirst, multiLast) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const slug = "WKSHP-Welcome101"

	// hub2: a location with its token, and its agent with its own hub.
	hub2Addr := freeAddr(t)
	hub2URL := "http://" + hub2Addr
	p.api("POST", "/api/v1/locations", map[string]any{"name": "hub2", "hub_url": hub2URL, "students": multiLast})
	tok := p.api("POST", "/api/v1/locations/hub2/agent-token", nil)["token"].(string)
	w := p.api("PATCH", "/api/v1/workshops/"+slug, map[string]any{"seat_max": multiHub2 - 1, "capacity": 12,
		"locations": []string{"local", fmt.Sprintf("hub2:%d-%d", multiHub2, multiLast)}})
	if fmt.Sprint(w["locations"]) != fmt.Sprintf("[local hub2:%d-%d]", multiHub2, multiLast) {
		t.Fatalf("workshop's locations: %v", w["locations"])
	}
	agent2 := startSecondAgent(t, p, hub2Addr, tok)
	defer agent2.stop()
	waitAgents(t, p, map[string]string{"local": wod.AgentAlive, "hub2": wod.AgentAlive})

	// A burst of four spreads over both; each agent prepares its share.
	ids := registerAll(t, p, slug, "burst", 4)
	at := map[string]int{}
	for _, id := range ids {
		r := p.waitState(id, wod.StateReady, 90*time.Second)
		at[r["location"].(string)]++
	}
	if at["local"] != 2 || at["hub2"] != 2 {
		t.Fatalf("the burst went to %v", at)
	}
	// hub2's credentials log in at hub2's own hub.
	for _, id := range ids {
		r := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", id), nil)
		if r["location"] != "hub2" {
			continue
		}
		if r["login_url"] != hub2URL+"/hub/login" {
			t.Fatalf("hub2's registration logs in at %v", r["login_url"])
		}
		s := jupyterhub.NewParticipant(hub2URL, r["username"].(string))
		if ok, err := s.Login(ctx, r["password"].(string)); err != nil || !ok {
			t.Fatalf("login at hub2: %v %v", ok, err)
		}
		break
	}

	// hub2's agent stops. Registered at once, before it counts as silent,
	// one of the next two still goes there; then it moves to local. (The
	// agent's shutdown, which stops its hub, takes longer than that.)
	agent2.cmd.Process.Signal(syscall.SIGTERM)
	next := registerAll(t, p, slug, "next", 2)
	var placedAtHub2 int64
	var where []any
	for _, id := range next {
		r := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", id), nil)
		if r["location"] == "hub2" {
			placedAtHub2 = id
		}
		where = append(where, r["location"], r["seat"])
	}
	if placedAtHub2 == 0 {
		t.Fatalf("no registration went to hub2 before its agent counted as silent: %v %v\n%s", where,
			p.api("GET", "/api/v1/locations/hub2", nil), p.logs)
	}
	agent2.stop()
	waitAgents(t, p, map[string]string{"local": wod.AgentAlive, "hub2": wod.AgentSilent})
	late := registerAll(t, p, slug, "late", 1)
	for _, id := range append(next, late...) {
		r := p.waitState(id, wod.StateReady, 90*time.Second)
		if r["location"] != "local" || r["login_url"] != hubURL+"/hub/login" {
			t.Fatalf("registration %d: at %v, login %v", id, r["location"], r["login_url"])
		}
	}

	// Nothing lost or doubled: one welcome and one credentials mail each,
	// one seat each, and the seat hub2 never started is free again.
	all := append(append(ids, next...), late...)
	for _, id := range all {
		ms := p.api("GET", fmt.Sprintf("/api/v1/mails?registration=%d&limit=100", id), nil)
		kinds := map[string]int{}
		for _, m := range ms["items"].([]any) {
			kinds[m.(map[string]any)["kind"].(string)]++
		}
		if len(kinds) != 2 || kinds["welcome"] != 1 || kinds["credentials"] != 1 {
			t.Fatalf("mails of registration %d: %v", id, kinds)
		}
	}
	held := map[string][]int{}
	for _, loc := range []string{"local", "hub2"} {
		seats := p.api("GET", "/api/v1/seats?location="+loc+"&state=assigned&limit=100", nil)
		for _, s := range seats["items"].([]any) {
			held[loc] = append(held[loc], int(s.(map[string]any)["number"].(float64)))
		}
		slices.Sort(held[loc])
	}
	if len(held["local"]) != 5 || len(held["hub2"]) != 2 || held["local"][4] > multiHub2-1 || held["hub2"][0] < multiHub2 {
		t.Fatalf("seats held: %v", held)
	}
	moved := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", placedAtHub2), nil)
	if n := int(moved["seat"].(map[string]any)["number"].(float64)); n >= multiHub2 {
		t.Fatalf("the moved registration holds seat %d", n)
	}
}

// registerAll registers n participants at once and returns their ids.
func registerAll(t *testing.T, p *platform, slug, prefix string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": slug, "name": "P",
				"email": fmt.Sprintf("%s%d@example.com", prefix, i)})
			ids[i] = int64(r["id"].(float64))
		})
	}
	wg.Wait()
	return ids
}

// waitAgents waits until the locations' agents are in the states.
func waitAgents(t *testing.T, p *platform, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]string{}
		for name := range want {
			got[name], _ = p.api("GET", "/api/v1/locations/"+name, nil)["agent_state"].(string)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents %v, want %v\n%s", got, want, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type agentProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *strings.Builder
}

// startSecondAgent runs `wod agent` for hub2 with a managed hub of its
// own, its own students' root, kernelspecs and uid base.
func startSecondAgent(t *testing.T, p *platform, hubAddr, token string) *agentProc {
	t.Helper()
	top, err := os.MkdirTemp("", "wod-hub2")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o755)
	t.Cleanup(func() { os.RemoveAll(top) })
	contentDir := ""
	for i, a := range p.args {
		if a == "--content" && i+1 < len(p.args) {
			contentDir = p.args[i+1]
		}
	}
	a := &agentProc{logs: &strings.Builder{}, exited: make(chan struct{})}
	a.cmd = exec.Command(binary, "agent", "--server", p.base, "--content", contentDir, "--data", filepath.Join(top, "data"),
		"--hub-addr", hubAddr, "--student-root", filepath.Join(top, "student"), "--uid-base", fmt.Sprint(multiHub2Base),
		"--kernelspec-dir", filepath.Join(top, "jupyter", "kernels"), "--agent-heartbeat", "1s", "--log-level", "warn")
	a.cmd.Env = append(os.Environ(), "WOD_AGENT_TOKEN="+token)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.exited) }()
	t.Cleanup(a.stop)
	return a
}

// stop ends the agent gracefully (it stops its hub) and waits for it.
func (a *agentProc) stop() {
	if a.cmd.Process == nil {
		return
	}
	select {
	case <-a.exited:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(40 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
	}
}
