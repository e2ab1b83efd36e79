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
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHubLoginThrottle drives logins through the real hub's login form (real
// PAM, Debian's 3 s delay on each failure), each claiming another address in
// X-Forwarded-For and X-Real-Ip, which the throttle ignores:
//
//   - a room behind one address, 30 correct logins and 4 typos at once, more
//     than the address's limit, all get through;
//   - 20 guesses of one student's password at once: BlockAfter reach PAM,
//     the rest and then the right password are refused for that name from
//     that address, while another student logs in from it and the same
//     student from elsewhere;
//   - a spray of 40 wrong passwords over 40 names at once: exactly
//     AddressBlockAfter reach PAM, then the address is refused, right
//     password included;
//
// an exempt address is never throttled, a student's process cannot forge
// its address, and the events arrive, rate limited, without a password.
func TestHubLoginThrottle(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	logger, logs := hubTestLogger(t)

	const room, typos, blockAfter, addressBlockAfter, spray = 30, 4, 4, 12, 40
	uids := freeUIDs(t, 65100, 65149, room)
	group := fmt.Sprintf("wodt-g%d", uids[0])
	t.Cleanup(func() { run(t, "groupdel", group) })
	// Cleanups run last-registered-first: the hub stops before the accounts
	// go, and the accounts before the group.
	students := make([]string, room)
	for i, uid := range uids {
		students[i] = fmt.Sprintf("wodt%d", uid)
		t.Cleanup(func() {
			killUID(uid)
			run(t, "userdel", students[i])
		})
	}
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
		LoginThrottle: LoginThrottle{DelayAfter: 3, BlockAfter: blockAfter, AddressBlockAfter: addressBlockAfter,
			BlockFor: 10 * time.Minute, Exempt: []string{"127.0.0.3"}},
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

	// The students, in the hub's group (Start made it).
	var passwords strings.Builder
	for i, uid := range uids {
		run(t, "useradd", "-M", "-d", filepath.Join(homes, students[i]), "-u", strconv.Itoa(uid), "-U", "-s", "/bin/bash", "-G", group, students[i])
		if _, err := user.Lookup(students[i]); err != nil {
			t.Fatalf("useradd %s: %v", students[i], err)
		}
		fmt.Fprintf(&passwords, "%s:right-Pass-%d\n", students[i], i)
	}
	runStdin(t, passwords.String(), "chpasswd")
	student, uid := students[0], uids[0]
	home := filepath.Join(homes, student)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	gid := lookupGID(t, student)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}

	base := "http://" + m.Bind
	var wg sync.WaitGroup
	burst := func(from string, n int, try func(i int) (name, password string)) []formResult {
		results := make([]formResult, n)
		for i := range n {
			wg.Go(func() {
				name, password := try(i)
				forged := fmt.Sprintf("198.51.100.%d", i+1)
				results[i] = formLogin(ctx, from, base, name, password,
					http.Header{"X-Forwarded-For": {forged}, "X-Real-Ip": {forged}})
			})
		}
		wg.Wait()
		return results
	}

	// (a) The room: everyone at once, a few with a typo first.
	t0 := time.Now()
	results := burst("127.0.0.10", room+typos, func(i int) (string, string) {
		if i >= room {
			return students[i-room], "Bad-Secret-typo"
		}
		return students[i], fmt.Sprintf("right-Pass-%d", i)
	})
	t.Logf("a room of %d logged in at once from one address (%d typos among them) in %v",
		room, typos, time.Since(t0).Round(time.Millisecond))
	for i, r := range results {
		if i < room && (r.err != nil || r.status != http.StatusFound || !r.cookie("jupyterhub-hub-login")) {
			t.Errorf("login %d of the room: %d %v %s", i, r.status, r.err, r.body)
		}
		if i >= room && !r.isInvalid() {
			t.Errorf("typo %d of the room: %d %v", i-room, r.status, r.err)
		}
	}

	// (b) One student's password guessed from one address, 20 at once.
	const guesses = 20
	t0 = time.Now()
	results = burst("127.0.0.1", guesses, func(i int) (string, string) { return student, fmt.Sprintf("Bad-Secret-%d", i) })
	t.Logf("%d guesses of one password answered in %v", guesses, time.Since(t0).Round(time.Millisecond))
	if invalid, refused := tally(t, results, scopeUser); invalid != blockAfter || refused != guesses-blockAfter {
		t.Fatalf("%d guesses reached PAM and %d were refused; want %d and %d", invalid, refused, blockAfter, guesses-blockAfter)
	}
	// The name stays refused from there, the right password included (PAM
	// is not asked); the agent's API is not throttled.
	if r := formLogin(ctx, "127.0.0.1", base, student, "Bad-Secret-again", nil); !r.isRefusal(scopeUser) {
		t.Errorf("a bad login while blocked: %d %v", r.status, r.err)
	}
	if r := formLogin(ctx, "127.0.0.1", base, student, "right-Pass-0", nil); !r.isRefusal(scopeUser) {
		t.Errorf("the right password of a blocked name: %d %v", r.status, r.err)
	}
	if _, err := c.User(ctx, student); err != nil {
		t.Errorf("the agent's API while a name is blocked: %v", err)
	}
	// wod loadtest and the rehearsal tell a refusal from a wrong password.
	if ok, err := NewParticipant(base, student).Login(ctx, "right-Pass-0"); ok || err == nil ||
		!strings.Contains(err.Error(), "login throttle refused") {
		t.Errorf("a participant's login of a blocked name: %v, %v", ok, err)
	}
	// Another student from that address, the student from another one.
	if r := formLogin(ctx, "127.0.0.1", base, students[1], "right-Pass-1", nil); !r.isSuccess() {
		t.Errorf("another student from the guessing address: %d %v %s", r.status, r.err, r.body)
	}
	if r := formLogin(ctx, "127.0.0.2", base, student, "right-Pass-0", nil); !r.isSuccess() {
		t.Errorf("the right password from another address: %d %v %s", r.status, r.err, r.body)
	}
	if r := formLogin(ctx, "127.0.0.1", base, student, "right-Pass-0", nil); !r.isRefusal(scopeUser) {
		t.Errorf("the blocked name after a success elsewhere: %d %v", r.status, r.err)
	}

	// (c) A spray: one wrong password over 40 names (students and others).
	t0 = time.Now()
	results = burst("127.0.0.4", spray, func(i int) (string, string) {
		if i < room {
			return students[i], "Bad-Secret-spray"
		}
		return fmt.Sprintf("wodt-nobody%d", i), "Bad-Secret-spray"
	})
	t.Logf("a spray of %d answered in %v", spray, time.Since(t0).Round(time.Millisecond))
	if invalid, refused := tally(t, results, scopeAddress); invalid != addressBlockAfter || refused != spray-addressBlockAfter {
		t.Fatalf("%d of the spray reached PAM and %d were refused; want %d and %d", invalid, refused, addressBlockAfter, spray-addressBlockAfter)
	}
	if r := formLogin(ctx, "127.0.0.4", base, students[2], "right-Pass-2", nil); !r.isRefusal(scopeAddress) {
		t.Errorf("the right password from a blocked address: %d %v", r.status, r.err)
	}

	// An exempt address is never throttled.
	exempt := burst("127.0.0.3", blockAfter+1, func(int) (string, string) { return student, "Bad-Secret-exempt" })
	for i, r := range exempt {
		if !r.isInvalid() {
			t.Errorf("bad login %d from the exempt address: %d %v", i, r.status, r.err)
		}
	}

	// Straight to the hub's port: the forwarded address counts only when
	// the peer is the proxy (root), never for a student's process.
	hubURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(m.HubPort))
	forged := http.Header{"X-Forwarded-For": {"192.0.2.77"}}
	if r := formLogin(ctx, "127.0.0.1", hubURL, student, "Bad-Secret-root", forged); !r.isInvalid() {
		t.Errorf("root's direct login with X-Forwarded-For 192.0.2.77: %d %v", r.status, r.err)
	}
	if status := loginAsUser(ctx, t, uid, gid, hubURL, student, "Bad-Secret-student", "192.0.2.78"); status != http.StatusTooManyRequests {
		t.Errorf("a student's direct login with X-Forwarded-For: %d, want 429 (keyed on its loopback address)", status)
	}

	// The events: per kind, scope and address, the sum of their counts.
	want := map[string]int{
		EventLoginFailed + " 127.0.0.10":         typos,
		EventLoginFailed + " 127.0.0.1":          blockAfter,
		EventLoginBlocked + " user 127.0.0.1":    blockAfter,
		EventLoginRefused + " user 127.0.0.1":    guesses - blockAfter + 5,
		EventLoginFailed + " 127.0.0.4":          addressBlockAfter,
		EventLoginBlocked + " address 127.0.0.4": addressBlockAfter,
		EventLoginRefused + " address 127.0.0.4": spray - addressBlockAfter + 1,
		EventLoginFailed + " 192.0.2.77":         1,
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
	records := 2 // the blocks
	for k, n := range want {
		if !strings.HasPrefix(k, EventLoginBlocked) {
			records += n
		}
	}
	if len(events) >= records/2 {
		t.Errorf("%d events for %d records: not rate limited", len(events), records)
	}
	for _, e := range events {
		if strings.Contains(e.Detail, "127.0.0.1 ") && !strings.Contains(e.Detail, strconv.Quote(student)) {
			t.Errorf("event without the user name: %+v", e)
		}
	}
	for _, text := range []string{fmt.Sprint(events), logs.String()} {
		if strings.Contains(text, "Bad-Secret") || strings.Contains(text, "right-Pass") {
			t.Errorf("a password in the events or the log:\n%s", text)
		}
	}
}

// freeUIDs finds n uids in lo..hi that no account or group uses, whose
// test names (wodtUID, wodt-gUID) are free too.
func freeUIDs(t *testing.T, lo, hi, n int) []int {
	t.Helper()
	var uids []int
	for uid := lo; uid <= hi && len(uids) < n; uid++ {
		_, u := user.LookupId(strconv.Itoa(uid))
		_, g := user.LookupGroupId(strconv.Itoa(uid))
		_, name := user.Lookup(fmt.Sprintf("wodt%d", uid))
		_, gname := user.LookupGroup(fmt.Sprintf("wodt-g%d", uid))
		if u != nil && g != nil && name != nil && gname != nil {
			uids = append(uids, uid)
		}
	}
	if len(uids) < n {
		t.Fatalf("only %d free uids in %d..%d, want %d", len(uids), lo, hi, n)
	}
	return uids
}

// tally counts the logins PAM turned down and those the throttle refused
// for the scope; anything else fails the test.
func tally(t *testing.T, results []formResult, scope string) (invalid, refused int) {
	t.Helper()
	for i, r := range results {
		switch {
		case r.isInvalid():
			invalid++
		case r.isRefusal(scope):
			refused++
		default:
			t.Errorf("login %d: %d %v %s", i, r.status, r.err, r.body)
		}
	}
	return invalid, refused
}

// sumEvents adds up the counts of the events by kind, scope and address.
func sumEvents(t *testing.T, events []AuditEvent) map[string]int {
	t.Helper()
	type pattern struct {
		re          *regexp.Regexp
		scope       string
		count, addr int // submatch indexes
	}
	patterns := map[string][]pattern{
		EventLoginFailed: {{regexp.MustCompile(`^(\d+) failed logins? to the hub from (\S+) \(`), "", 1, 2}},
		EventLoginRefused: {
			{regexp.MustCompile(`^(\d+) logins? to the hub refused from (\S+), which is blocked \(`), "address ", 1, 2},
			{regexp.MustCompile(`^(\d+) logins? to the hub refused from (\S+) for a blocked user name \(`), "user ", 1, 2},
		},
		EventLoginBlocked: {
			{regexp.MustCompile(`^(\S+) refused at the hub's login for 10m0s after (\d+) failed logins \(`), "address ", 2, 1},
			{regexp.MustCompile(`^users? .+ refused at the hub's login from (\S+) for 10m0s after (\d+) failed logins of (that|each) name$`), "user ", 2, 1},
		},
	}
	sums := map[string]int{}
	for _, e := range events {
		matched := false
		for _, p := range patterns[e.Kind] {
			if m := p.re.FindStringSubmatch(e.Detail); m != nil {
				n, _ := strconv.Atoi(m[p.count])
				sums[e.Kind+" "+p.scope+m[p.addr]] += n
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("unexpected event %+v", e)
		}
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

// isRefusal reports the throttle's answer for the scope (the address, or a
// user name from it).
func (r formResult) isRefusal(scope string) bool {
	text := refusalAddress
	if scope == scopeUser {
		text = refusalUser
	}
	text, _, _ = strings.Cut(text, ".")
	return r.err == nil && r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") != "" &&
		strings.Contains(r.body, text)
}

// isInvalid reports PAM's answer to a wrong password or name.
func (r formResult) isInvalid() bool {
	return r.err == nil && r.status == http.StatusOK && strings.Contains(r.body, "Invalid username or password")
}

// isSuccess reports a login that opened a session.
func (r formResult) isSuccess() bool {
	return r.err == nil && r.status == http.StatusFound && r.cookie("jupyterhub-hub-login")
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
