package jupyterhub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/testenv"
)

// TestManagedHub runs the real Debian JupyterHub: configuration, start, the
// REST client against it, PAM login through the proxy with a real Unix
// account, and supervision after a SIGKILL.
func TestManagedHub(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	logger, logs := hubTestLogger(t)

	// Accounts and group that cannot collide with real ones. Cleanups run
	// last-registered-first: the hub stops before the accounts go, and the
	// accounts before the group.
	uid := freeUIDPair(t, 62000, 62999)
	group := fmt.Sprintf("wodt-g%d", uid)
	student, outsider := fmt.Sprintf("wodt%d", uid), fmt.Sprintf("wodt%d", uid+1)
	t.Cleanup(func() { run(t, "groupdel", group) })
	for _, u := range []struct {
		name string
		uid  int
	}{{student, uid}, {outsider, uid + 1}} {
		t.Cleanup(func() {
			killUID(u.uid) // processes of the test account only, by pid
			run(t, "userdel", u.name)
			os.RemoveAll(filepath.Join(RuntimeRoot, strconv.Itoa(u.uid)))
		})
	}
	homes := testHomes(t)

	ports := freePorts(t, 3)
	m := &Managed{
		Dir:          filepath.Join(t.TempDir(), "hub"),
		Bind:         net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HubPort:      ports[1],
		ProxyAPIPort: ports[2],
		StudentGroup: group,
		KeepServers:  true,
		Announcement: `Welcome <b>'students'</b>`,
		Logger:       logger,
		StopTimeout:  10 * time.Second,
	}
	start := time.Now()
	c, err := m.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("hub up in %v", time.Since(start).Round(time.Millisecond))
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	t.Cleanup(func() {
		proxyPID := readPID(filepath.Join(m.Dir, proxyPIDFile))
		hubPID := m.pid()
		stopRun()
		select {
		case err := <-runDone:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
		for _, pid := range []int{hubPID, proxyPID} {
			if pid > 0 && alive(pid) {
				t.Errorf("pid %d still running after Run returned", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	// Files and modes.
	for name, mode := range map[string]os.FileMode{".": 0o700, configFile: 0o600, tokenFile: 0o600, cookieSecretFile: 0o600} {
		st, err := os.Stat(filepath.Join(m.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}

	v, err := c.Version(ctx)
	if err != nil || !strings.HasPrefix(v, "3.") && !strings.HasPrefix(v, "4.") && !strings.HasPrefix(v, "5.") {
		t.Fatalf("Version = %q, %v", v, err)
	}
	t.Logf("JupyterHub %s", v)

	// A second hub on the same ports must say which port is taken.
	m2 := &Managed{Dir: filepath.Join(t.TempDir(), "hub2"), Bind: m.Bind, HubPort: m.HubPort, ProxyAPIPort: m.ProxyAPIPort, StudentGroup: group}
	if _, err := m2.Start(ctx); err == nil || !strings.Contains(err.Error(), strconv.Itoa(ports[0])) {
		t.Errorf("Start on taken ports: err = %v, want the port %d named", err, ports[0])
	}

	// The Unix accounts: the student is in the group, the outsider is not.
	for _, u := range []struct {
		name   string
		uid    int
		groups []string
	}{{student, uid, []string{"-G", group}}, {outsider, uid + 1, nil}} {
		home := filepath.Join(homes, u.name)
		args := append([]string{"-M", "-d", home, "-u", strconv.Itoa(u.uid), "-U", "-s", "/bin/bash"}, u.groups...)
		run(t, "useradd", append(args, u.name)...)
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, u.uid, lookupGID(t, u.name)); err != nil {
			t.Fatal(err)
		}
	}
	runStdin(t, student+":right-Pass-1\n"+outsider+":right-Pass-2\n", "chpasswd")

	// Users.
	if err := c.EnsureUser(ctx, student); err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}
	if err := c.EnsureUser(ctx, student); err != nil {
		t.Fatalf("EnsureUser again (409): %v", err)
	}
	if err := c.EnsureUser(ctx, outsider); err != nil {
		t.Fatalf("EnsureUser(outsider): %v", err)
	}
	u, err := c.User(ctx, student)
	if err != nil || u.Name != student || len(u.Servers) != 0 {
		t.Fatalf("User = %+v, %v", u, err)
	}
	if _, err := c.User(ctx, "wodt-nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User(unknown): %v, want ErrNotFound", err)
	}
	// PAM users need a Unix account; the hub says 400.
	err = c.EnsureUser(ctx, "wodt-nounix")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Errorf("EnsureUser without a Unix account: %v, want a 400", err)
	}

	// Servers.
	t0 := time.Now()
	if err := c.StartServer(ctx, student); err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Logf("server ready in %v", time.Since(t0).Round(time.Millisecond))
	u, err = c.User(ctx, student)
	if err != nil || !u.Servers[""].Ready || u.Servers[""].URL != "/user/"+student+"/" {
		t.Fatalf("after StartServer: %+v, %v", u, err)
	}
	if err := c.StartServer(ctx, student); err != nil {
		t.Errorf("StartServer on a running server: %v", err)
	}
	if active, err := c.ActiveServers(ctx); err != nil || !active[student] || active[outsider] {
		t.Errorf("ActiveServers with %s's server running: %v, %v", student, active, err)
	}

	// PAM login through the proxy's public address.
	base := "http://" + m.Bind
	res := mustLogin(ctx, t, base, student, "wrong-password")
	if res.status != http.StatusOK || res.cookie("jupyterhub-hub-login") || !strings.Contains(res.body, "Invalid username or password") {
		t.Errorf("wrong password: %d, location %q, cookies %v", res.status, res.location, res.cookies)
	}
	if !strings.Contains(res.body, "Welcome &lt;b&gt;&#39;students&#39;&lt;/b&gt;") {
		t.Errorf("login page does not show the escaped announcement")
	}
	// The platform's announcements replace it on every page, without a
	// restart; neither HTML nor Jinja in them is markup.
	if err := m.SetBanners([]Banner{{Text: "Break at {{ 7*7 }}: <i>back</i> soon"}, {Text: "Hub restarts at 5", Warning: true}}); err != nil {
		t.Fatal(err)
	}
	res = mustLogin(ctx, t, base, student, "wrong-password")
	if !strings.Contains(res.body, `alert alert-info">Break at &#123;&#123; 7*7 &#125;&#125;: &lt;i&gt;back&lt;/i&gt; soon</div>`) ||
		!strings.Contains(res.body, `alert alert-warning">Hub restarts at 5</div>`) || strings.Contains(res.body, "Welcome") ||
		strings.Contains(res.body, "Break at 49") {
		t.Errorf("login page after SetBanners:\n%s", res.body)
	}
	res = mustLogin(ctx, t, base, outsider, "right-Pass-2")
	if res.status != http.StatusOK || res.cookie("jupyterhub-hub-login") {
		t.Errorf("account outside the student group logged in: %d, location %q", res.status, res.location)
	}
	// A mistyped password costs 3 s in PAM (pam_faildelay); it must not hold
	// up another student's login meanwhile (3.0 has one PAM thread; the
	// managed config gives it several).
	slow := make(chan error, 1)
	go func() {
		_, err := hubLogin(ctx, base, outsider, "wrong-password")
		slow <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the failing login enter PAM
	t0 = time.Now()
	res = mustLogin(ctx, t, base, student, "right-Pass-1")
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("a login took %v while another one failed: PAM logins are serialised", d)
	}
	if err := <-slow; err != nil {
		t.Error(err)
	}
	if res.status != http.StatusFound || !res.cookie("jupyterhub-hub-login") ||
		!(strings.Contains(res.location, "/user/"+student+"/") || strings.Contains(res.location, "/hub/spawn")) {
		t.Errorf("login: %d, location %q, cookies %v", res.status, res.location, res.cookies)
	}

	// Supervision: kill the hub; Run must bring it back.
	oldPID := m.pid()
	if oldPID == 0 {
		t.Fatal("no hub pid")
	}
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	for {
		if p := m.pid(); p != 0 && p != oldPID {
			vctx, vcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.whoamiNoRetry(vctx)
			vcancel()
			if err == nil {
				break
			}
		}
		if time.Since(t0) > 30*time.Second {
			t.Fatalf("hub not back 30 s after SIGKILL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("hub back %v after SIGKILL", time.Since(t0).Round(time.Millisecond))
	// The student's server outlived the hub; the new hub took it over from
	// its database and routed it through the new proxy: a login reaches
	// the notebook (following the hub's OAuth redirects).
	if u, err := c.User(ctx, student); err != nil || !u.Servers[""].Ready {
		t.Errorf("server after the hub restart: %+v, %v", u, err)
	}
	res = mustLogin(ctx, t, base, student, "right-Pass-1")
	if res.status != http.StatusFound || !strings.Contains(res.location, "/user/"+student+"/") {
		t.Errorf("login after restart: %d, location %q", res.status, res.location)
	}
	if res.client != nil {
		follow := &http.Client{Jar: res.client.Jar, Timeout: 20 * time.Second}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/user/"+student+"/tree", nil)
		r, err := follow.Do(req)
		if err != nil {
			t.Errorf("notebook through the proxy: %v", err)
		} else {
			page := readAll(r)
			if r.StatusCode != http.StatusOK || r.Request.URL.Path != "/user/"+student+"/tree" || !strings.Contains(page, "Jupyter") {
				t.Errorf("notebook through the proxy: %d at %s", r.StatusCode, r.Request.URL)
			}
		}
	}

	// A stop of the hub (the agent restarting) leaves the server running;
	// the next hub, on the same ports, takes it over.
	stopRun()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(pidsOfUID(uid)) == 0 {
		t.Fatal("the student's server stopped with the hub")
	}
	nextCtx, stopNext := context.WithCancel(context.Background())
	stopRun, runDone = stopNext, make(chan error, 1) // for the cleanup
	runCtx = nextCtx
	if c, err = m.Start(ctx); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	go func() { runDone <- m.Run(runCtx) }()
	if u, err := c.User(ctx, student); err != nil || !u.Servers[""].Ready {
		t.Fatalf("server after a restart of the hub: %+v, %v", u, err)
	}
	res = mustLogin(ctx, t, base, student, "right-Pass-1")
	if res.status != http.StatusFound || !strings.Contains(res.location, "/user/"+student+"/") {
		t.Errorf("login after a restart of the hub: %d, location %q", res.status, res.location)
	}
	// The server outlived the process that read the hub's output. Its
	// kernels must live: when the servers wrote to the hub's pipe, a kept
	// server's new kernel died at its first write (EPIPE) and the
	// participant's notebook lost its connection. What a kernel writes to
	// its descriptors goes to the server's log, which only root reads.
	p := NewParticipant(base, student)
	if ok, err := p.Login(ctx, "right-Pass-1"); err != nil || !ok {
		t.Fatalf("participant login after a restart of the hub: %v, %v", ok, err)
	}
	if err := p.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, out, err := p.Execute(ctx, "import os\nos.write(1, b'wod-fd-1\\n'); os.write(2, b'wod-fd-2\\n')\nprint('kernel after restart')"); err != nil || !strings.Contains(out, "kernel after restart") {
		t.Errorf("a kernel of a server kept over a restart of the hub: %q, %v", out, err)
	}
	// Its kernels talk over Unix sockets in the student's runtime directory,
	// root's RuntimeRoot/<uid>, not on loopback ports any student reaches.
	var kern struct {
		ID string `json:"id"`
	}
	if err := p.API(ctx, http.MethodPost, "/api/kernels", map[string]any{"name": "python3"}, &kern); err != nil {
		t.Fatal(err)
	}
	runtime := filepath.Join(RuntimeRoot, strconv.Itoa(uid))
	if st, err := os.Stat(runtime); err != nil || st.Mode().Perm() != 0o700 || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Errorf("the student's runtime directory: %v, %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(runtime, "kernel-"+kern.ID+".json")); err != nil ||
		!strings.Contains(string(b), `"transport": "ipc"`) || !strings.Contains(string(b), runtime) {
		t.Errorf("the kernel's connection file (%v):\n%s", err, b)
	}
	if err := p.API(ctx, http.MethodDelete, "/api/kernels/"+kern.ID, nil, nil); err != nil {
		t.Error(err)
	}
	serverLog := filepath.Join(m.Dir, serverLogsDir, student+".log")
	if st, err := os.Stat(filepath.Dir(serverLog)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the servers' log directory: %v, %v", st, err)
	}
	if st, err := os.Stat(serverLog); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the server's log: %v, %v", st, err)
	}
	// None of the student's processes holds the hub's output pipe: once
	// wod exits, nobody reads it.
	for _, pid := range pidsOfUID(uid) {
		for _, fd := range []string{"1", "2"} {
			if dest, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd)); err == nil && dest != serverLog && dest != "/dev/null" {
				t.Errorf("process %d of the student writes its fd %s to %s, not to its server's log", pid, fd, dest)
			}
		}
	}
	if b, err := os.ReadFile(serverLog); err != nil || !strings.Contains(string(b), "wod-fd-1") || !strings.Contains(string(b), "wod-fd-2") ||
		!strings.Contains(string(b), "SingleUserNotebookApp") {
		t.Errorf("the server's log holds no output of the server or its kernel (%v):\n%s", err, b)
	}

	if err := c.StopServer(ctx, student); err != nil {
		t.Fatalf("StopServer: %v", err)
	}
	if u, err := c.User(ctx, student); err != nil || len(u.Servers) != 0 {
		t.Errorf("after StopServer: %+v, %v", u, err)
	}
	if active, err := c.ActiveServers(ctx); err != nil || active[student] {
		t.Errorf("ActiveServers after StopServer: %v, %v", active, err)
	}
	if err := c.StopServer(ctx, student); err != nil {
		t.Errorf("StopServer again: %v", err)
	}
	if err := c.StopServer(ctx, "wodt-nobody"); err != nil {
		t.Errorf("StopServer(unknown user): %v", err)
	}

	if err := c.DeleteUser(ctx, outsider); err != nil {
		t.Errorf("DeleteUser: %v", err)
	}
	if err := c.DeleteUser(ctx, outsider); err != nil {
		t.Errorf("DeleteUser again: %v", err)
	}
	if strings.Contains(logs.String(), c.Token) {
		t.Errorf("the service token appears in the log")
	}
}

// whoamiNoRetry checks the API with the token, one attempt.
func (c *Client) whoamiNoRetry(ctx context.Context) (int, error) {
	resp, err := c.once(ctx, http.MethodGet, "/user", nil)
	if err != nil {
		return 0, err
	}
	if resp.status != http.StatusOK {
		return resp.status, c.apiError(http.MethodGet, "/user", resp)
	}
	return resp.status, nil
}

type loginResult struct {
	client   *http.Client // with the session cookies
	status   int
	location string
	cookies  []*http.Cookie
	body     string
}

func (r loginResult) cookie(name string) bool {
	for _, c := range r.cookies {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// hubLogin fills in the hub's login form like a browser: GET the page (and
// its _xsrf, if the hub version uses one), POST the credentials, and report
// the answer without following redirects.
func hubLogin(ctx context.Context, base, name, password string) (loginResult, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/hub/login", nil)
	res, err := hc.Do(req)
	if err != nil {
		return loginResult{}, fmt.Errorf("GET /hub/login: %w", err)
	}
	page := readAll(res)
	if res.StatusCode != http.StatusOK {
		return loginResult{}, fmt.Errorf("GET /hub/login: %d", res.StatusCode)
	}
	form := url.Values{"username": {name}, "password": {password}}
	if m := regexp.MustCompile(`name="_xsrf" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		form.Set("_xsrf", m[1])
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/hub/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = hc.Do(req)
	if err != nil {
		return loginResult{}, fmt.Errorf("POST /hub/login: %w", err)
	}
	body := readAll(res)
	return loginResult{client: hc, status: res.StatusCode, location: res.Header.Get("Location"), cookies: res.Cookies(), body: body}, nil
}

// mustLogin is hubLogin for the test goroutine.
func mustLogin(ctx context.Context, t *testing.T, base, name, password string) loginResult {
	t.Helper()
	res, err := hubLogin(ctx, base, name, password)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return b.String()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// freeUIDPair finds uid such that uid and uid+1 are unused, and no user or
// group of the names the test derives from it exists.
func freeUIDPair(t *testing.T, lo, hi int) int {
	t.Helper()
	for uid := lo + os.Getpid()%100; uid < hi; uid += 2 {
		free := true
		for _, id := range []int{uid, uid + 1} {
			if _, err := user.LookupId(strconv.Itoa(id)); err == nil {
				free = false
			}
			if _, err := user.LookupGroupId(strconv.Itoa(id)); err == nil {
				free = false
			}
			if _, err := user.Lookup(fmt.Sprintf("wodt%d", id)); err == nil {
				free = false
			}
		}
		if _, err := user.LookupGroup(fmt.Sprintf("wodt-g%d", uid)); err == nil {
			free = false
		}
		if free {
			return uid
		}
	}
	t.Fatalf("no free uid in %d..%d", lo, hi)
	return 0
}

func lookupGID(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(u.Gid)
	return gid
}

// run runs an administration command; in cleanups a failure is only logged
// (the thing to remove may not have been created).
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Logf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

func runStdin(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
}

// killUID kills the processes whose real uid is uid (the test's own
// accounts), one pid at a time, so that userdel can proceed.
func killUID(uid int) {
	for _, pid := range pidsOfUID(uid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pidsOfUID lists the processes whose real uid is uid.
func pidsOfUID(uid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requireHubHost skips the test unless it can run a real managed hub with
// real Unix accounts: root, Debian's jupyterhub and the account tools.
func requireHubHost(t *testing.T) {
	t.Helper()
	testenv.HubHost(t, "the managed hub authenticates with PAM and spawns servers as Unix users")
}

// hubTestLogger logs the hub and the agent into a buffer shown when the
// test fails (or always, with WOD_TEST_HUB_LOG set).
func hubTestLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("WOD_TEST_HUB_LOG") != "" {
			t.Logf("hub and agent log:\n%s", logs.String())
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// testHomes is a folder for the test students' homes, removed at the end.
// Not under t.TempDir(): students must traverse to their home, and
// MkdirTemp makes it 0700.
func testHomes(t *testing.T) string {
	t.Helper()
	homes, err := os.MkdirTemp("", "wodjh-homes-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(homes) })
	if err := os.Chmod(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	return homes
}
