package jupyterhub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHubLoginThrottle drives bad logins through the real hub's login form,
// 20 at once, each claiming another address in X-Forwarded-For and
// X-Real-Ip: the throttle keys them on the real client all the same, lets
// BlockAfter of them reach PAM and refuses the rest; the refusal holds for
// the right password too, while the same student logs in from another
// address; the events arrive, rate limited, without a password in them.
func TestHubLoginThrottle(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	logger, logs := hubTestLogger(t)

	uid := freeUIDPair(t, 63000, 63999)
	group, student := fmt.Sprintf("wodt-g%d", uid), fmt.Sprintf("wodt%d", uid)
	t.Cleanup(func() { run(t, "groupdel", group) })
	t.Cleanup(func() {
		killUID(uid)
		run(t, "userdel", student)
	})
	homes := testHomes(t)

	var mu sync.Mutex
	var events []AuditEvent
	ports := freePorts(t, 3)
	m := &Managed{
		Dir:          filepath.Join(t.TempDir(), "hub"),
		Bind:         net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HubPort:      ports[1],
		ProxyAPIPort: ports[2],
		StudentGroup: group,
		Logger:       logger,
		StopTimeout:  10 * time.Second,
		LoginThrottle: LoginThrottle{DelayAfter: 3, BlockAfter: 6, BlockFor: 10 * time.Minute,
			Exempt: []string{"127.0.0.3"}},
		Audit: func(_ context.Context, kind, detail string) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, AuditEvent{Kind: kind, Detail: detail})
			return nil
		},
		auditEvery: time.Second,
	}
	c, err := m.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	t.Cleanup(func() {
		stopRun()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	home := filepath.Join(homes, student)
	run(t, "useradd", "-M", "-d", home, "-u", strconv.Itoa(uid), "-U", "-s", "/bin/bash", "-G", group, student)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	gid := lookupGID(t, student)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	runStdin(t, student+":right-Pass-1\n", "chpasswd")
	if err := c.EnsureUser(ctx, student); err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}

	base := "http://" + m.Bind
	// 20 bad logins at once, each with forged forwarding headers.
	const attempts, blockAfter = 20, 6
	results := make([]formResult, attempts)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range attempts {
		wg.Go(func() {
			forged := fmt.Sprintf("198.51.100.%d", i+1)
			results[i] = formLogin(ctx, "127.0.0.1", base, student, fmt.Sprintf("Bad-Secret-%d", i),
				http.Header{"X-Forwarded-For": {forged}, "X-Real-Ip": {forged}})
		})
	}
	wg.Wait()
	t.Logf("%d bad logins answered in %v", attempts, time.Since(t0).Round(time.Millisecond))
	invalid, refused := 0, 0
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("login %d: %v", i, r.err)
		case r.status == http.StatusOK && strings.Contains(r.body, "Invalid username or password"):
			invalid++
		case r.isRefusal():
			refused++
		default:
			t.Errorf("login %d: %d %s", i, r.status, r.body)
		}
	}
	if invalid != blockAfter || refused != attempts-blockAfter {
		t.Fatalf("%d logins reached PAM and %d were refused; want %d and %d", invalid, refused, blockAfter, attempts-blockAfter)
	}

	// The address stays refused, the right password included (PAM is not
	// asked); the agent's API is not throttled.
	if r := formLogin(ctx, "127.0.0.1", base, student, "Bad-Secret-again", nil); !r.isRefusal() {
		t.Errorf("a bad login while blocked: %d %v", r.status, r.err)
	}
	if r := formLogin(ctx, "127.0.0.1", base, student, "right-Pass-1", nil); !r.isRefusal() {
		t.Errorf("the right password from a blocked address: %d %v", r.status, r.err)
	}
	if _, err := c.User(ctx, student); err != nil {
		t.Errorf("the agent's API while an address is blocked: %v", err)
	}
	// Another address is not concerned, and its success resets nothing.
	if r := formLogin(ctx, "127.0.0.2", base, student, "right-Pass-1", nil); r.err != nil ||
		r.status != http.StatusFound || !r.cookie("jupyterhub-hub-login") {
		t.Errorf("the right password from another address: %d %v %s", r.status, r.err, r.body)
	}
	if r := formLogin(ctx, "127.0.0.1", base, student, "right-Pass-1", nil); !r.isRefusal() {
		t.Errorf("the blocked address after a success elsewhere: %d %v", r.status, r.err)
	}
	// An exempt address is never throttled.
	exempt := make([]formResult, blockAfter+1)
	for i := range exempt {
		wg.Go(func() { exempt[i] = formLogin(ctx, "127.0.0.3", base, student, "Bad-Secret-exempt", nil) })
	}
	wg.Wait()
	for i, r := range exempt {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("bad login %d from the exempt address: %d %v", i, r.status, r.err)
		}
	}

	// Straight to the hub's port: the forwarded address counts only when
	// the peer is the proxy (root), never for a student's process.
	hubURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(m.HubPort))
	forged := http.Header{"X-Forwarded-For": {"192.0.2.77"}}
	if r := formLogin(ctx, "127.0.0.1", hubURL, student, "Bad-Secret-root", forged); r.err != nil || r.status != http.StatusOK {
		t.Errorf("root's direct login with X-Forwarded-For 192.0.2.77: %d %v", r.status, r.err)
	}
	if status := loginAsUser(ctx, t, uid, gid, hubURL, student, "Bad-Secret-student", "192.0.2.78"); status != http.StatusTooManyRequests {
		t.Errorf("a student's direct login with X-Forwarded-For: %d, want 429 (keyed on its loopback address)", status)
	}

	// The events: per kind and address, the sum of their counts.
	want := map[string]int{
		EventLoginFailed + " 127.0.0.1":  blockAfter,
		EventLoginBlocked + " 127.0.0.1": blockAfter,
		EventLoginRefused + " 127.0.0.1": attempts - blockAfter + 4,
		EventLoginFailed + " 192.0.2.77": 1,
	}
	var got map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		got = sumEvents(t, events)
		mu.Unlock()
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events sum up to %v, want %v:\n%v", got, want, events)
	}
	if len(events) >= attempts {
		t.Errorf("%d events: not rate limited", len(events))
	}
	for _, e := range events {
		if e.Kind != EventLoginBlocked && !strings.Contains(e.Detail, strconv.Quote(student)) {
			t.Errorf("event without the user name: %+v", e)
		}
	}
	for _, text := range []string{fmt.Sprint(events), logs.String()} {
		if strings.Contains(text, "Bad-Secret") || strings.Contains(text, "right-Pass") {
			t.Errorf("a password in the events or the log:\n%s", text)
		}
	}
}

// sumEvents adds up the counts of the events by kind and address.
func sumEvents(t *testing.T, events []AuditEvent) map[string]int {
	t.Helper()
	patterns := map[string]*regexp.Regexp{
		EventLoginFailed:  regexp.MustCompile(`^(\d+) failed logins? to the hub from (\S+) \(`),
		EventLoginRefused: regexp.MustCompile(`^(\d+) logins? to the hub refused from (\S+), which is blocked \(`),
		EventLoginBlocked: regexp.MustCompile(`^(\S+) refused at the hub's login for 10m0s after (\d+) failed logins \(`),
	}
	sums := map[string]int{}
	for _, e := range events {
		m := patterns[e.Kind].FindStringSubmatch(e.Detail)
		if m == nil {
			t.Errorf("unexpected event %+v", e)
			continue
		}
		n, addr := m[1], m[2]
		if e.Kind == EventLoginBlocked {
			n, addr = m[2], m[1]
		}
		count, _ := strconv.Atoi(n)
		sums[e.Kind+" "+addr] += count
	}
	return sums
}

type formResult struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	body    string
	err     error
}

func (r formResult) isRefusal() bool {
	return r.err == nil && r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") != "" &&
		strings.Contains(r.body, "Too many failed logins from your address")
}

func (r formResult) cookie(name string) bool {
	return loginResult{cookies: r.cookies}.cookie(name)
}

// formLogin fills in the login form at base like a browser on the local
// address from, with extra request headers on the POST.
func formLogin(ctx context.Context, from, base, name, password string, extra http.Header) formResult {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	hc := &http.Client{
		Jar:           jar,
		Timeout:       60 * time.Second,
		Transport:     &http.Transport{Proxy: nil, DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/hub/login", nil)
	res, err := hc.Do(req)
	if err != nil {
		return formResult{err: fmt.Errorf("GET /hub/login: %w", err)}
	}
	page := readAll(res)
	form := url.Values{"username": {name}, "password": {password}}
	if m := regexp.MustCompile(`name="_xsrf" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		form.Set("_xsrf", m[1])
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/hub/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range extra {
		req.Header[k] = vs
	}
	res, err = hc.Do(req)
	if err != nil {
		return formResult{err: fmt.Errorf("POST /hub/login: %w", err)}
	}
	body := readAll(res)
	return formResult{status: res.StatusCode, header: res.Header, cookies: res.Cookies(), body: body}
}

// loginAsUser posts a login to the hub from a process of the given Unix
// account (a student's shell), with a forged X-Forwarded-For, and returns
// the status.
func loginAsUser(ctx context.Context, t *testing.T, uid, gid int, base, name, password, forged string) int {
	t.Helper()
	script := `
import sys, urllib.error, urllib.parse, urllib.request
base, name, password, forged = sys.argv[1:5]
data = urllib.parse.urlencode({"username": name, "password": password}).encode()
req = urllib.request.Request(base + "/hub/login", data=data, headers={"X-Forwarded-For": forged})
try:
    print(urllib.request.urlopen(req, timeout=30).status)
except urllib.error.HTTPError as e:
    print(e.code)
`
	// The hub's own Python: the one in the test's PATH may sit where the
	// account cannot reach.
	hub, _ := exec.LookPath("jupyterhub")
	py := shebang(hub)
	if py == "" {
		py = "/usr/bin/python3"
	}
	cmd := exec.CommandContext(ctx, py, "-I", "-c", script, base, name, password, forged)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("login as uid %d: %v", uid, err)
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("login as uid %d: %q", uid, out)
	}
	return status
}
