package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/directory/directorytest"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/testenv"
)

// e2eSeat is the seat the end-to-end test books: far above the seats of a
// wod up running on the same machine (student1…student100), as its uid
// base is far from theirs, so nothing collides.
const (
	e2eSeat    = 9001
	e2eUIDBase = 52000
)

// TestEndToEnd registers through the API on a real wod up with a real
// JupyterHub, logs in with the password from the registration, finds the
// notebook personalised, runs a cell in a kernel, ends the session and
// checks what is left: the completion, a dead password, an empty home, no
// process, a free seat.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The workshop's appliances log students in with LDAP: the directory
	// gets the password the participant got, and loses it at the end.
	ldapURL, ldapPassword := directorytest.Start(t)
	directorytest.AddStudent(t, ldapURL, ldapPassword, e2eSeat)
	p, hubURL, students := startRealPlatform(t, e2eSeat, map[string]string{"ldap: false": "ldap: true"},
		"--ldap-url", ldapURL, "--ldap-bind-dn", directorytest.Manager, "--ldap-password", ldapPassword,
		"--ldap-user-dn", "uid=student{N},ou=People,"+directorytest.Suffix)
	defer p.stop()
	ldapDN := fmt.Sprintf("uid=student%d,ou=People,%s", e2eSeat, directorytest.Suffix)

	// An operator's announcement reaches the hub's pages too (the agent
	// reads them every 30 s; checked at the end).
	p.api("POST", "/api/v1/announcements", map[string]any{"message": "The hub restarts at noon", "level": "warning"})

	reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Welcome101", "name": "Ann", "email": "ann@example.com"})
	id := int64(reg["id"].(float64))
	r := p.waitState(id, wod.StateReady, 90*time.Second)
	password, _ := r["password"].(string)
	username := r["username"].(string)
	if password == "" || username != fmt.Sprintf("student%d", e2eSeat) || r["login_url"] != hubURL+"/hub/login" {
		t.Fatalf("ready registration: %v", r)
	}

	if !directorytest.CanBind(t, ldapURL, ldapDN, password) {
		t.Fatal("the directory does not take the participant's password")
	}
	s := jupyterhub.NewParticipant(hubURL, username)
	if ok, err := s.Login(ctx, "not-"+password); err != nil || ok {
		t.Fatalf("a wrong password logged in: %v %v", ok, err)
	}
	if ok, err := s.Login(ctx, password); err != nil || !ok {
		t.Fatalf("login with the registration's password: %v %v", ok, err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	const nbPath = "WKSHP-Welcome101/1-WKSHP-First-Steps.ipynb"
	nb, err := s.Notebook(ctx, nbPath)
	if err != nil {
		t.Fatalf("%v\n%s", err, seatState(filepath.Join(students, username), e2eUIDBase+e2eSeat))
	}
	readme, err := s.Notebook(ctx, "WKSHP-Welcome101/0-ReadMeFirst.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal([]any{readme, nb})
	if !strings.Contains(string(raw), password) || !strings.Contains(string(raw), fmt.Sprintf("student%d", e2eSeat)) {
		t.Fatalf("the notebooks are not personalised (password, student number): %s", raw)
	}
	// Run the first code cell in a kernel, and save the notebook as the
	// notebook page would.
	cells := nb["cells"].([]any)
	total := 0
	var first map[string]any
	for _, c := range cells {
		if cell := c.(map[string]any); cell["cell_type"] == "code" {
			total++
			if first == nil {
				first = cell
			}
		}
	}
	for _, c := range readme["cells"].([]any) {
		if c.(map[string]any)["cell_type"] == "code" {
			total++
		}
	}
	src := first["source"]
	if l, ok := src.([]any); ok {
		var b strings.Builder
		for _, x := range l {
			b.WriteString(fmt.Sprint(x))
		}
		src = b.String()
	}
	count, printed, err := s.Execute(ctx, fmt.Sprint(src))
	if err != nil || count < 1 {
		t.Fatalf("execute %q: %d %q %v", src, count, printed, err)
	}
	first["execution_count"] = count
	first["outputs"] = []any{map[string]any{"output_type": "stream", "name": "stdout", "text": printed}}
	if err := s.SaveNotebook(ctx, nbPath, nb); err != nil {
		t.Fatal(err)
	}

	// The end: measured, wiped, locked, freed.
	p.api("POST", fmt.Sprintf("/api/v1/registrations/%d/end", id), nil)
	done := p.waitState(id, wod.StateDone, 90*time.Second)
	// The participant takes their work home: the notebook as they saved it.
	res, err := http.Get(done["status_url"].(string) + "/notebooks.zip")
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(res.Body)
	res.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if res.StatusCode != 200 || err != nil {
		t.Fatalf("notebooks download: %d %v", res.StatusCode, err)
	}
	var saved map[string]any
	for _, f := range zr.File {
		if f.Name == nbPath {
			rc, _ := f.Open()
			json.NewDecoder(rc).Decode(&saved)
			rc.Close()
		}
	}
	if saved == nil || !strings.Contains(fmt.Sprint(saved["cells"]), printed) {
		t.Fatalf("the downloaded notebook is not the one saved: %d files, %v", len(zr.File), saved != nil)
	}
	if want := 100 / total; int(done["completion"].(float64)) != want {
		t.Fatalf("completion %v, want %d (1 of %d code cells)", done["completion"], want, total)
	}
	if ok, _ := jupyterhub.NewParticipant(hubURL, username).Login(ctx, password); ok {
		t.Fatal("the old password still logs in")
	}
	if directorytest.CanBind(t, ldapURL, ldapDN, password) {
		t.Fatal("the old password still logs in to the directory")
	}
	home := filepath.Join(students, username)
	if entries, err := os.ReadDir(home); err != nil || len(entries) != 0 {
		t.Fatalf("home not wiped: %v %v", entries, err)
	}
	if pids := uidProcesses(e2eUIDBase + e2eSeat); len(pids) != 0 {
		t.Fatalf("processes of %s survive: %v", username, pids)
	}
	if seats := p.api("GET", "/api/v1/seats?state=assigned", nil); seats["total"].(float64) != 0 {
		t.Fatalf("seat not free: %v", seats)
	}
	// Homes are private to their student.
	if info, _ := os.Stat(home); info.Mode().Perm()&0o077 != 0 {
		t.Fatalf("home mode %v", info.Mode().Perm())
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/hub/login", nil)
		req.Header.Set("Accept", "text/html")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(page), `alert-warning">The hub restarts at noon</div>`) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the announcement never reached the hub's login page:\n%s", page)
		case <-time.After(time.Second):
		}
	}
	// The wrong passwords at the hub's login joined the audit trail, by
	// user name, without the password.
	for {
		events := p.api("GET", "/api/v1/events?kind=hub.login_failed", nil)
		raw, _ := json.Marshal(events)
		if strings.Contains(string(raw), password) {
			t.Fatalf("a password in the audit trail: %s", raw)
		}
		if items, _ := events["items"].([]any); len(items) > 0 && strings.Contains(string(raw), username) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no hub.login_failed event: %s", raw)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// startRealPlatform runs wod up with a real JupyterHub, as root, with the
// sample workshop on seats first…first+2 (uids e2eUIDBase + N): it returns
// the platform, the hub's URL and the students' root. edits replace text in
// the sample's wod.yml; args go to wod up. The caller stops it;
// the students' accounts are removed at the end of the test.
func startRealPlatform(t *testing.T, first int, edits map[string]string, args ...string) (*platform, string, string) {
	t.Helper()
	return startRealPlatformContent(t, first, edits, nil, args...)
}

// startRealPlatformContent is startRealPlatform with more content beside
// the sample: files by slash path under the content folder.
func startRealPlatformContent(t *testing.T, first int, edits, files map[string]string, args ...string) (*platform, string, string) {
	t.Helper()
	students := realHost(t, first, first+2)
	data := t.TempDir()
	contentDir := t.TempDir()
	if err := content.ExtractSample(contentDir); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		file := filepath.Join(contentDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yml := filepath.Join(contentDir, "WKSHP-Welcome101", "wod.yml")
	b, _ := os.ReadFile(yml)
	edits["range: [1,20]"] = fmt.Sprintf("range: [%d,%d]", first, first+2)
	for from, to := range edits {
		if !strings.Contains(string(b), from) {
			t.Fatalf("the sample's wod.yml has no %q: %s", from, b)
		}
		b = []byte(strings.Replace(string(b), from, to, 1))
	}
	os.WriteFile(yml, b, 0o644)

	addr, hubAddr := freeAddr(t), freeAddr(t)
	hubURL := "http://" + hubAddr
	common := []string{"--data", data, "--log-level", "warn"}
	if code, _, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 {
		t.Fatal(errOut)
	}
	_, tok, _ := runWod(t, "", append([]string{"token", "create", "--role", "admin"}, common...)...)
	p := &platform{t: t, addr: addr, base: "http://" + addr, admin: strings.TrimSpace(tok)}
	// wod's kernelspecs go beside the students' root, not into the
	// system's Jupyter path with a test binary's argv (args may set another).
	specs := filepath.Join(filepath.Dir(students), "jupyter", "kernels")
	p.args = append([]string{"--content", contentDir, "--students", fmt.Sprint(first + 2), "--hub-addr", hubAddr,
		"--hub-url", hubURL, "--student-root", students, "--uid-base", fmt.Sprint(e2eUIDBase), "--kernelspec-dir", specs},
		append(args, common...)...)
	p.startUp()
	return p, hubURL, students
}

// realHost skips the test unless it runs as root with JupyterHub
// installed, and returns a students' root that students first…last can
// enter; their accounts are removed at the end of the test.
func realHost(t *testing.T, first, last int) string {
	t.Helper()
	testenv.HubHost(t, "this test creates Unix accounts and runs a JupyterHub")
	// Not under t.TempDir(): its 0700 parent would keep students out of their homes.
	top, err := os.MkdirTemp("", "wod-e2e")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o755)
	t.Cleanup(func() { os.RemoveAll(top) })
	t.Cleanup(func() { removeStudents(t, first, last) })
	return filepath.Join(top, "student")
}

// startUp runs wod up (server, agent, managed hub) as a process.
func (p *platform) startUp() {
	p.t.Helper()
	p.logs = &processLog{}
	p.cmd = exec.Command(binary, append([]string{"up", "--addr", p.addr}, p.args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.exited) }()
	p.waitReady()
}

// stop ends wod up gracefully, so that it stops its hub and the students'
// servers.
func (p *platform) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

func uidProcesses(uid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		zombie := false
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "State:" && f[1] == "Z" {
				zombie = true
			}
			if len(f) >= 2 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) && !zombie {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// removeStudents deletes the accounts of students from…to. It must
// succeed: an account left behind keeps this test's home in /etc/passwd,
// and the next run's hub would start that student's server there. userdel
// refuses an account while a process of it runs, and the servers that wod
// up's hub leaves running (KeepServers) die only some time after SIGKILL.
func removeStudents(t *testing.T, from, to int) {
	for n := from; n <= to; n++ {
		name := fmt.Sprintf("student%d", n)
		if u, err := user.Lookup(name); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			deadline := time.Now().Add(20 * time.Second)
			for len(uidProcesses(uid)) > 0 && time.Now().Before(deadline) {
				exec.Command("pkill", "-KILL", "-u", name).Run()
				time.Sleep(50 * time.Millisecond) // a poll of the condition above
			}
			// -f: a zombie nobody reaps counts as a process for userdel.
			if out, err := exec.Command("userdel", "-f", name).CombinedOutput(); err != nil {
				t.Errorf("removing the account %s: %v: %s (processes: %v)", name, err, out, uidProcesses(uid))
			}
			os.RemoveAll(filepath.Join(jupyterhub.RuntimeRoot, u.Uid)) // its servers' runtime directory
		}
		if _, err := user.LookupGroup(name); err == nil {
			exec.Command("groupdel", name).Run()
		}
	}
}
