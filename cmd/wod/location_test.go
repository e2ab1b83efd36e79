package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod/store/storetest"
)

// TestLocationCommands: wod location add, list, set, agent-token and
// remove, on the database of both dialects, with the API's checks.
func TestLocationCommands(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			common := []string{"--data", t.TempDir(), "--db", storetest.DSN(t, d), "--log-level", "warn"}
			wod := func(args ...string) (int, string, string) {
				t.Helper()
				return runWod(t, "", append(args, common...)...)
			}
			if code, out, errOut := wod("location", "list"); code != 0 || !strings.Contains(out, "(none: add one with wod location add") {
				t.Fatalf("empty list: %d %q %q", code, out, errOut)
			}
			code, out, errOut := wod("location", "add", "hub1", "--hub-url", "http://hub1.example:8000/", "--students", "10", "--base-student-id", "100")
			if code != 0 || !strings.Contains(out, "location hub1 added: 10 seats (student101..student110), hub http://hub1.example:8000") {
				t.Fatalf("add: %d %q %q", code, out, errOut)
			}
			// The API's rules: a bad name, a bad URL, a taken name, a required flag.
			if code, _, errOut := wod("location", "add", "Bad_Name", "--hub-url", "ftp://x", "--students", "0"); code == 0 ||
				!strings.Contains(errOut, "name:") || !strings.Contains(errOut, "hub_url:") || !strings.Contains(errOut, "students:") {
				t.Fatalf("bad location: %d %q", code, errOut)
			}
			if code, _, errOut := wod("location", "add", "hub1", "--hub-url", "http://x", "--students", "1"); code == 0 || !strings.Contains(errOut, "hub1") {
				t.Fatalf("taken name: %d %q", code, errOut)
			}
			if code, _, errOut := wod("location", "add", "hub2", "--students", "1"); code == 0 || !strings.Contains(errOut, `"hub-url" not set`) {
				t.Fatalf("no hub URL: %d %q", code, errOut)
			}

			if code, out, _ := wod("location", "set", "hub1", "--students", "12"); code != 0 || !strings.Contains(out, "12 seats (student101..student112)") {
				t.Fatalf("set: %d %q", code, out)
			}
			if code, _, errOut := wod("location", "set", "hub1"); code == 0 || !strings.Contains(errOut, "nothing to change") {
				t.Fatalf("set nothing: %d %q", code, errOut)
			}
			if code, _, errOut := wod("location", "set", "nowhere", "--students", "3"); code == 0 || !strings.Contains(errOut, "nowhere") {
				t.Fatalf("set unknown: %d %q", code, errOut)
			}

			code, out, _ = wod("location", "list")
			if code != 0 || !regexp.MustCompile(`(?m)^NAME\s+HUB URL\s+STUDENTS\s+BASE ID\s+AGENT\s+LAST HEARTBEAT\n`+
				`hub1\s+http://hub1.example:8000\s+12\s+100\s+unknown\s+never$`).MatchString(out) {
				t.Fatalf("list: %d\n%s", code, out)
			}
			code, out, _ = wod("location", "list", "--json")
			var ls []struct {
				Name          string `json:"name"`
				HubURL        string `json:"hub_url"`
				Students      int    `json:"students"`
				BaseStudentID int    `json:"base_student_id"`
				AgentState    string `json:"agent_state"`
			}
			if err := json.Unmarshal([]byte(out), &ls); code != 0 || err != nil || len(ls) != 1 || ls[0].Name != "hub1" ||
				ls[0].Students != 12 || ls[0].BaseStudentID != 100 || ls[0].AgentState != "unknown" {
				t.Fatalf("list --json: %d %v %s", code, err, out)
			}

			// A location an original backend serves, added and switched back.
			if code, _, errOut := wod("location", "add", "legacy1", "--hub-url", "http://legacy1.example:8000", "--students", "5",
				"--base-student-id", "500", "--kind", "legacy", "--backend-email", "wod@legacy1.example.com"); code != 0 {
				t.Fatalf("add legacy: %d %q", code, errOut)
			}
			if code, _, errOut := wod("location", "add", "legacy2", "--hub-url", "http://x", "--students", "1", "--base-student-id", "600",
				"--kind", "legacy"); code == 0 || !strings.Contains(errOut, "backend_email") {
				t.Fatalf("legacy without its address: %d %q", code, errOut)
			}
			// Back to a wod agent: the command address goes too, or the
			// answer says why not.
			if code, _, errOut := wod("location", "set", "legacy1", "--kind", "agent"); code == 0 || !strings.Contains(errOut, "backend_email") {
				t.Fatalf("set kind, address kept: %d %q", code, errOut)
			}
			if code, _, errOut := wod("location", "set", "legacy1", "--kind", "agent", "--backend-email", ""); code != 0 {
				t.Fatalf("set kind: %d %q", code, errOut)
			}
			_, out, _ = wod("location", "list", "--json")
			var kinds []struct {
				Name string `json:"name"`
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal([]byte(out), &kinds); err != nil || len(kinds) != 2 || kinds[0].Kind != "agent" || kinds[1].Kind != "agent" {
				t.Fatalf("kinds: %v %s", err, out)
			}
			if code, _, errOut := wod("location", "set", "legacy1", "--kind", "legacy", "--backend-email", "wod@legacy1.example.com"); code != 0 {
				t.Fatalf("set legacy: %d %q", code, errOut)
			}
			if _, out, _ = wod("location", "list", "--json"); !strings.Contains(out, `"kind": "legacy"`) {
				t.Fatalf("legacy kind not listed: %s", out)
			}
			if code, _, errOut := wod("location", "remove", "legacy1"); code != 0 {
				t.Fatalf("remove legacy1: %d %q", code, errOut)
			}

			// The token is printed once; a new one replaces it.
			code, tok1, _ := wod("location", "agent-token", "hub1")
			_, tok2, _ := wod("location", "agent-token", "hub1")
			if code != 0 || len(strings.TrimSpace(tok1)) < 20 || tok1 == tok2 || strings.Count(tok1, "\n") != 1 {
				t.Fatalf("agent-token: %d %q %q", code, tok1, tok2)
			}
			if code, _, errOut := wod("location", "agent-token", "nowhere"); code == 0 || !strings.Contains(errOut, "nowhere") {
				t.Fatalf("token of an unknown location: %d %q", code, errOut)
			}

			// A workshop's location is not removed; once it has none, it is.
			content := t.TempDir()
			writeWorkshop(t, content, "WKSHP-There", "name: There\nrange: [1,5]\n")
			if code, out, errOut := wod("workshop", "import", content); code != 0 || !strings.Contains(out, "created    WKSHP-There") {
				t.Fatalf("import: %d %q %q", code, out, errOut)
			}
			if code, _, errOut := wod("location", "remove", "hub1"); code == 0 || !strings.Contains(errOut, "location hub1 is used by 1 workshops") {
				t.Fatalf("remove a workshop's location: %d %q", code, errOut)
			}
			if code, out, errOut := wod("location", "add", "spare", "--hub-url", "http://spare:8000", "--students", "2"); code != 0 {
				t.Fatalf("add spare: %d %q %q", code, out, errOut)
			}
			if code, out, errOut := wod("location", "remove", "spare"); code != 0 || out != "location spare removed\n" {
				t.Fatalf("remove: %d %q %q", code, out, errOut)
			}
			if code, _, errOut := wod("location", "remove", "spare"); code == 0 || !strings.Contains(errOut, "spare") {
				t.Fatalf("remove twice: %d %q", code, errOut)
			}
		})
	}
}

// TestServerContentWaitsForALocation: wod server --content on a bare
// control plane starts, says the content waits, and imports it once a
// location is added, here by the CLI: another process, which only the
// database tells the server about.
func TestServerContentWaitsForALocation(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			common := []string{"--data", t.TempDir(), "--db", storetest.DSN(t, d)}
			content := t.TempDir()
			writeWorkshop(t, content, "WKSHP-Later", "name: Later\nrange: [1,3]\nactive: true\n")
			addr := freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &lockedBuffer{}
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, append([]string{"server", "--addr", addr, "--content", content}, common...),
					func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, logs)
			}()
			base := "http://" + addr
			waitReady(t, base+"/readyz")
			if !strings.Contains(logs.String(), "the content waits for a location") {
				t.Fatalf("the log does not say the content waits:\n%s", logs.String())
			}
			if slugs := catalogue(t, base); len(slugs) != 0 {
				t.Fatalf("catalogue before any location: %v", slugs)
			}
			if code, out, errOut := runWod(t, "", append([]string{"location", "add", "hub1", "--hub-url", "http://hub1:8000", "--students", "5", "--log-level", "warn"}, common...)...); code != 0 {
				t.Fatalf("location add: %d %q %q", code, out, errOut)
			}
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(strings.Join(catalogue(t, base), ","), "WKSHP-Later") {
				if time.Now().After(deadline) {
					t.Fatalf("the content was not imported after the location was added:\n%s", logs.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), "content imported: a location appeared") || !strings.Contains(logs.String(), "location=hub1") {
				t.Fatalf("the log does not say the content was imported:\n%s", logs.String())
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("server exited %d:\n%s", code, logs.String())
			}
		})
	}
}

func catalogue(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/api/v1/workshops")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Items []struct{ Slug string } }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range list.Items {
		out = append(out, w.Slug)
	}
	return out
}

// lockedBuffer is a log written by the server's goroutines and read by
// the test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
