package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// wod runs the command line in-process and returns its exit status and output.
func runWod(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	code := run(context.Background(), args, env, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			data := t.TempDir()
			db := storetest.DSN(t, d)
			common := []string{"--data", data, "--db", db, "--log-level", "warn"}

			if code, out, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 || !regexp.MustCompile(`database schema at version [1-9][0-9]* \(`).MatchString(out) {
				t.Fatalf("migrate: %d %q %q", code, out, errOut)
			}
			// Importing before any location exists says what to do.
			content := t.TempDir()
			writeWorkshop(t, content, "WKSHP-Good", "name: Good\nrange: [1,5]\nduration: 90s\nactive: true\n")
			code, _, errOut := runWod(t, "", append([]string{"workshop", "import", content}, common...)...)
			if code == 0 || !strings.Contains(errOut, "no location") {
				t.Fatalf("import without a location: %d %q", code, errOut)
			}

			// wod up creates the location, imports the sample and the first admin.
			addr := freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int)
			var upErr bytes.Buffer
			go func() {
				done <- run(ctx, append([]string{"up", "--agent=false", "--addr", addr, "--students", "30"}, common...),
					func(string) string { return "" }, strings.NewReader(""), &bytes.Buffer{}, &upErr)
			}()
			base := "http://" + addr
			waitReady(t, base+"/readyz")
			res, err := http.Get(base + "/api/v1/workshops")
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Items []struct{ Slug string }
			}
			json.NewDecoder(res.Body).Decode(&list)
			res.Body.Close()
			if len(list.Items) != 1 || list.Items[0].Slug != "WKSHP-Welcome101" {
				t.Fatalf("wod up catalogue: %+v", list)
			}
			pw, err := os.ReadFile(filepath.Join(data, "initial-admin-password"))
			if err != nil || len(strings.TrimSpace(string(pw))) < 12 {
				t.Fatalf("initial admin password: %v", err)
			}
			if info, _ := os.Stat(filepath.Join(data, "initial-admin-password")); info.Mode().Perm() != 0o600 {
				t.Fatalf("initial admin password mode %v", info.Mode().Perm())
			}
			if strings.Contains(upErr.String(), strings.TrimSpace(string(pw))) {
				t.Fatal("the admin password was printed to the log")
			}
			body := `{"username":"admin","password":"` + strings.TrimSpace(string(pw)) + `"}`
			res, err = http.Post(base+"/api/v1/login", "application/json", strings.NewReader(body))
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("admin login: %v %v", res.StatusCode, err)
			}
			res.Body.Close()
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("wod up exited %d: %s", code, upErr.String())
			}

			// Bad content: the file, the key and the problem; nothing imported.
			bad := t.TempDir()
			writeWorkshop(t, bad, "WKSHP-Bad", "name: Bad\nrange: [9,3]\nactive: maybe\n")
			writeWorkshop(t, bad, "WKSHP-Fine", "name: Fine\nrange: [6,8]\n")
			code, _, errOut = runWod(t, "", append([]string{"workshop", "import", bad}, common...)...)
			if code == 0 || !strings.Contains(errOut, filepath.Join(bad, "WKSHP-Bad", "wod.yml")) ||
				!strings.Contains(errOut, "range") || !strings.Contains(errOut, "active") {
				t.Fatalf("bad content: %d %q", code, errOut)
			}
			_, out, _ := runWod(t, "", append([]string{"workshop", "list"}, common...)...)
			if strings.Contains(out, "WKSHP-Fine") {
				t.Fatalf("half-imported: %s", out)
			}
			// Good content lands on the only location; a range beyond its seats is refused.
			code, out, errOut = runWod(t, "", append([]string{"workshop", "import", content}, common...)...)
			if code != 0 || !strings.Contains(out, "created    WKSHP-Good") {
				t.Fatalf("import: %d %q %q", code, out, errOut)
			}
			// The CLI's import is an operator's action: audited, as "cli".
			// wod up's import of the sample at start is the platform's own.
			func() {
				st, err := store.Open(context.Background(), db, wod.SystemClock{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				kind := "workshop.import"
				es, _, err := st.FindEvents(context.Background(), wod.EventFilter{Kind: &kind})
				if err != nil || len(es) != 1 || es[0].Actor != "cli" {
					t.Fatalf("audit of the CLI's import: %+v %v", es, err)
				}
			}()
			big := t.TempDir()
			writeWorkshop(t, big, "WKSHP-Big", "name: Big\nrange: [1,500]\n")
			if code, _, errOut := runWod(t, "", append([]string{"workshop", "import", big}, common...)...); code == 0 || !strings.Contains(errOut, "students 1..30") {
				t.Fatalf("range beyond the location: %d %q", code, errOut)
			}

			// Users: password from stdin, or generated and printed once.
			if code, out, errOut := runWod(t, "a-long-password-42\n", append([]string{"user", "add", "ada", "--role", "moderator"}, common...)...); code != 0 || strings.Contains(out, "password") {
				t.Fatalf("user add: %d %q %q", code, out, errOut)
			}
			if code, out, _ := runWod(t, "", append([]string{"user", "add", "bob", "--role", "admin"}, common...)...); code != 0 || !strings.Contains(out, "password: ") {
				t.Fatalf("user add with a generated password: %d %q", code, out)
			}
			if code, _, errOut := runWod(t, "short\n", append([]string{"user", "add", "eve", "--role", "admin"}, common...)...); code == 0 || !strings.Contains(errOut, "12") {
				t.Fatalf("short password: %d %q", code, errOut)
			}
			if code, _, errOut := runWod(t, "", append([]string{"user", "add", "ada", "--role", "admin"}, common...)...); code == 0 || !strings.Contains(errOut, "already exists") {
				t.Fatalf("duplicate user: %d %q", code, errOut)
			}
			if code, _, errOut := runWod(t, "", append([]string{"user", "add", "mal", "--role", "root"}, common...)...); code == 0 || !strings.Contains(errOut, "admin or moderator") {
				t.Fatalf("bad role: %d %q", code, errOut)
			}
			code, out, _ = runWod(t, "", append([]string{"token", "create", "--role", "moderator", "--name", "ci"}, common...)...)
			if tok := strings.TrimSpace(out); code != 0 || !strings.HasPrefix(tok, "wod_") || len(tok) != 30 {
				t.Fatalf("token create: %d %q", code, out)
			}
		})
	}
}

func TestVersionAndBadConfiguration(t *testing.T) {
	if code, out, _ := runWod(t, "", "version"); code != 0 || !strings.HasPrefix(out, "wod ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := runWod(t, "", "migrate", "--db", "mysql://x", "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "--db") {
		t.Fatalf("bad --db: %d %q", code, errOut)
	}
	if code, _, errOut := runWod(t, "", "agent"); code == 0 || !strings.Contains(errOut, "--server") {
		t.Fatalf("agent: %d %q", code, errOut)
	}
}

func writeWorkshop(t *testing.T, dir, slug, yml string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, slug), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, slug, "wod.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady waits for a server run in the test's process to answer ready.
func waitReady(t *testing.T, url string) {
	t.Helper()
	if err := pollReady(url, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
}

// pollReady polls url until it answers 200, the process behind it exits
// (exited closed) or within passes. A loaded machine (other packages' tests
// beside) can take long to start a hub, so callers give generous bounds:
// the test fails fast anyway when the process exits.
func pollReady(url string, within time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: the process exited before it was ready", url)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready within %s", url, within)
}

// TestContentCheck: content that would not render is found at import and by
// wod workshop test, with file, line and name.
func TestContentCheck(t *testing.T) {
	data := t.TempDir()
	common := []string{"--data", data, "--log-level", "error"}
	// wod workshop test reads no data directory: --data is not its flag.
	quiet := []string{"--log-level", "error"}
	dir := t.TempDir()
	writeWorkshop(t, dir, "WKSHP-Tpl", "name: Tpl\nrange: [1,3]\n")
	nb := `{"cells":[{"cell_type":"markdown","metadata":{},"source":"port {{ HTTPPORT }} for student{{ STDID }}"}],` +
		`"metadata":{},"nbformat":4,"nbformat_minor":4}`
	os.WriteFile(filepath.Join(dir, "WKSHP-Tpl", "1-Lab.ipynb"), []byte(nb), 0o644)

	code, out, _ := runWod(t, "", append([]string{"workshop", "test", filepath.Join(dir, "WKSHP-Tpl")}, quiet...)...)
	if code == 0 || !strings.Contains(out, `WKSHP-Tpl/1-Lab.ipynb:1:`) || !strings.Contains(out, `undefined variable "HTTPPORT"`) {
		t.Fatalf("workshop test: %d %q", code, out)
	}
	if code, out, _ := runWod(t, "", append([]string{"workshop", "test", filepath.Join(dir, "WKSHP-Tpl"), "--var", "HTTPPORT=8888"}, quiet...)...); code != 0 {
		t.Fatalf("workshop test with the variable: %d %q", code, out)
	}
	// An appliance workshop needs its appliance's address, read from wod.yml.
	other := t.TempDir()
	writeWorkshop(t, other, "WKSHP-Lab", "name: Lab\nrange: [5,7]\nmultiappliance: true\n")
	os.WriteFile(filepath.Join(other, "WKSHP-Lab", "1-Lab.ipynb"), []byte(strings.Replace(nb, "{{ HTTPPORT }}", "on {{ WODRTARGET }}", 1)), 0o644)
	code, out, _ = runWod(t, "", append([]string{"workshop", "test", filepath.Join(other, "WKSHP-Lab")}, quiet...)...)
	if code == 0 || !strings.Contains(out, "WKSHP-Lab/wod.yml") || !strings.Contains(out, "IP-WKSHP-Lab is not set") ||
		strings.Contains(out, "undefined") {
		t.Fatalf("workshop test of an appliance workshop without its address: %d %q", code, out)
	}
	if code, out, _ := runWod(t, "", append([]string{"workshop", "test", filepath.Join(other, "WKSHP-Lab"), "--var", "IP-WKSHP-Lab=10.0.0.10"}, quiet...)...); code != 0 {
		t.Fatalf("workshop test with the appliance's address: %d %q", code, out)
	}
	writeWorkshop(t, other, "WKSHP-Bad", "name: Bad\nrange: [9,1]\n")
	if code, _, errOut := runWod(t, "", append([]string{"workshop", "test", filepath.Join(other, "WKSHP-Bad")}, quiet...)...); code == 0 ||
		!strings.Contains(errOut, "WKSHP-Bad/wod.yml") || !strings.Contains(errOut, "range") {
		t.Fatalf("workshop test of a bad wod.yml: %d %q", code, errOut)
	}
	// wod up --agent=false creates the location; stop it at once.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	addr := freeAddr(t)
	go func() {
		done <- run(ctx, append([]string{"up", "--agent=false", "--addr", addr}, common...), func(string) string { return "" },
			strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	waitReady(t, "http://"+addr+"/readyz")
	cancel()
	<-done

	code, _, errOut := runWod(t, "", append([]string{"workshop", "import", dir}, common...)...)
	if code == 0 || !strings.Contains(errOut, "HTTPPORT") || !strings.Contains(errOut, "--var") {
		t.Fatalf("strict import: %d %q", code, errOut)
	}
	if code, out, errOut := runWod(t, "", append([]string{"workshop", "import", dir, "--content-check", "warn"}, common...)...); code != 0 || !strings.Contains(out, "WKSHP-Tpl") {
		t.Fatalf("import with warnings: %d %q %q", code, out, errOut)
	}
}
