package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail/smtptest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// The browser tests drive Debian's Chromium, headless, against a real wod
// server process on a free loopback port, as a participant on a phone and an
// operator on a desktop would use it. They save a screenshot of each main
// page (see artifactsDir).
const (
	// chromiumPath is where Debian's chromium package puts the browser.
	chromiumPath = "/usr/bin/chromium"
	// requireBrowserEnv makes a missing Chromium a failure (scripts/test
	// sets it), not a skip.
	requireBrowserEnv = "WOD_TEST_REQUIRE_BROWSER"
	// artifactsEnv names the directory the screenshots go to.
	artifactsEnv = "WOD_TEST_ARTIFACTS"

	// browserDeadline bounds the whole browser session; stepTimeout bounds
	// each action, liveTimeout the wait for a page that updates itself.
	browserDeadline = 2 * time.Minute
	stepTimeout     = 15 * time.Second
	liveTimeout     = 25 * time.Second
)

// TestBrowser walks a participant and an operator through the pages:
// registration with its refusals (a bad e-mail, already registered, full),
// the status page turning ready with the credentials live when the agent
// finishes, the operator's failed and throttled logins, and an operator
// ending the registration from the admin pages while the participant's page
// follows it to the end.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	shots := artifactsDir(t)

	data := t.TempDir()
	dsn := storetest.DSN(t, store.SQLite)
	smtp := smtptest.Start(t)
	adminToken := setup(t, dsn, data)
	const operatorName, operatorPassword = "olivia", "browser-test-password-42"
	if code, _, errOut := runWod(t, operatorPassword+"\n", "user", "add", operatorName, "--role", "admin",
		"--data", data, "--db", dsn, "--log-level", "warn"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	p := startPlatform(t, serverArgs(dsn, data, smtp)...)
	p.admin = adminToken
	agentToken := p.prepare("10m", 5)
	p.api("PATCH", "/api/v1/workshops/WKSHP-Short", map[string]any{"title": "Kubernetes 101",
		"description": "Deploy, scale and debug your first application on a real cluster, from a Jupyter notebook.",
		"categories":  []string{"Cloud", "Open source"}, "presenter": "Ann Example"})
	p.api("POST", "/api/v1/workshops", map[string]any{"slug": "WKSHP-Tiny", "title": "Tiny room",
		"description": "A workshop with a single seat.", "categories": []string{"Cloud"}, "duration": "10m",
		"seat_min": 1, "seat_max": 5, "capacity": 1, "active": true})
	// The agent starts only once the status page has been seen pending, so
	// that the page is caught before it turns ready; the operator then takes
	// two seconds for each operation, which the page shows live.
	op := &countingHost{counts: map[string]int{}, delay: 2 * time.Second}
	agentCtx, stopAgent := context.WithCancel(context.Background())
	defer stopAgent()

	b := startBrowser(t, chromium, p, shots)
	phone := b.tab("participant", 390, 844, true)
	desk := b.tab("operator", 1280, 900, false)

	// The catalogue lists both workshops, with their seats.
	phone.navigate(p.base + "/")
	phone.waitVisible(`a[href="/workshops/WKSHP-Short#register"]`)
	if txt := phone.text("main"); !strings.Contains(txt, "Kubernetes 101") || !strings.Contains(txt, "Tiny room") ||
		!strings.Contains(txt, "5 seats left") {
		t.Fatalf("catalogue:\n%s", txt)
	}
	phone.shot("01-catalogue")

	// A bad e-mail: the form comes back with what was typed and the field's error.
	phone.click(`a[href="/workshops/WKSHP-Short#register"]`)
	phone.waitVisible("#email")
	phone.typeIn("#name", "Ann Smith")
	phone.typeIn("#email", "ann.example.com")
	phone.fill("#company", "Acme")
	if status := phone.submit(`form[action$="/register"] button[type=submit]`); status != 422 {
		t.Fatalf("bad e-mail: status %d", status)
	}
	phone.waitVisible("#email-error")
	if got := phone.attr("#email", "aria-invalid"); got != "true" {
		t.Errorf("the e-mail field is not marked invalid: aria-invalid=%q", got)
	}
	if name, email := phone.value("#name"), phone.value("#email"); name != "Ann Smith" || email != "ann.example.com" {
		t.Errorf("the form lost what was typed: name %q, e-mail %q", name, email)
	}
	phone.waitVisible("#problem")
	phone.shot("02-workshop-errors")

	// Corrected: registered, the confirmation leads to the status page.
	phone.fill("#email", "ann@example.com")
	if status := phone.submit(`form[action$="/register"] button[type=submit]`); status != 200 {
		t.Fatalf("registration: status %d", status)
	}
	phone.waitVisible("#to-status")
	if txt := phone.text("main"); !strings.Contains(txt, "Ann Smith") || !strings.Contains(txt, "ann@example.com") ||
		!strings.Contains(txt, "Kubernetes 101") {
		t.Errorf("confirmation:\n%s", txt)
	}
	phone.shot("03-confirmation")
	phone.click("#to-status")
	phone.waitVisible("#state")
	if state := phone.attr("#state", "data-state"); state != "pending" {
		t.Fatalf("status page before the agent ran: %q", state)
	}
	statusURL := phone.location()
	if !strings.HasPrefix(statusURL, p.base+"/status/") {
		t.Fatalf("status page at %s", statusURL)
	}
	phone.shot("04-status-pending")
	regs := p.api("GET", "/api/v1/registrations?email="+url.QueryEscape("ann@example.com"), nil)["items"].([]any)
	if len(regs) != 1 {
		t.Fatalf("registrations of ann@example.com: %v", regs)
	}
	ann := int64(regs[0].(map[string]any)["id"].(float64))

	// The same address again: already registered.
	phone.navigate(p.base + "/workshops/WKSHP-Short")
	phone.fill("#name", "Ann Smith")
	phone.fill("#email", "ann@example.com")
	if status := phone.submit(`form[action$="/register"] button[type=submit]`); status != 409 {
		t.Fatalf("registered twice: status %d", status)
	}
	phone.waitVisible("#problem")
	if code := phone.attr("#problem", "data-code"); code != wod.EALREADYREGISTERED {
		t.Errorf("registered twice: problem %q: %s", code, phone.text("#problem"))
	}
	phone.shot("05-already-registered")

	// The last seat goes to somebody else while the form is open: full.
	phone.navigate(p.base + "/workshops/WKSHP-Tiny")
	phone.waitVisible("#email")
	p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-Tiny", "name": "Bob", "email": "bob@example.com"})
	phone.fill("#name", "Carol Jones")
	phone.fill("#email", "carol@example.com")
	if status := phone.submit(`form[action$="/register"] button[type=submit]`); status != 409 {
		t.Fatalf("full: status %d", status)
	}
	phone.waitVisible("#problem")
	if code := phone.attr("#problem", "data-code"); code != wod.EFULL {
		t.Errorf("full: problem %q: %s", code, phone.text("#problem"))
	}
	phone.shot("06-full")

	// The agent finishes: the status page turns ready by itself and shows
	// the credentials.
	phone.navigate(statusURL)
	phone.waitVisible(`#state[data-state="pending"]`)
	phone.markPage()
	runAgent(t, agentCtx, p.base, agentToken, op)
	phone.waitLive(`#state[data-state="ready"]`)
	phone.waitVisible("#password")
	if user, pw := phone.text("#username"), phone.text("#password"); user != "student1" || pw != fmt.Sprintf("pw-%d-student1", ann) {
		t.Errorf("credentials on the page: %q / %q", user, pw)
	}
	if launch := phone.attr("#launch", "href"); !strings.HasPrefix(launch, "http://hub.test/hub/login?next=") {
		t.Errorf("launch link %q", launch)
	}
	phone.waitVisible("#end-now")
	phone.checkMark()
	phone.shot("07-status-ready")

	// The operator: a wrong password, then the right one.
	desk.navigate(p.base + "/admin/login")
	desk.waitVisible("#password")
	desk.typeIn("#username", operatorName)
	desk.typeIn("#password", "not-the-password")
	if status := desk.submit(`form[action="/admin/login"] button[type=submit]`); status != 401 {
		t.Fatalf("wrong password: status %d", status)
	}
	desk.waitVisible("#problem")
	if txt := desk.text("#problem"); !strings.Contains(txt, "Wrong user name or password") {
		t.Errorf("wrong password: %q", txt)
	}
	if got := desk.value("#username"); got != operatorName {
		t.Errorf("the user name was not kept: %q", got)
	}
	desk.shot("08-admin-login-error")
	desk.fill("#password", operatorPassword)
	status := desk.submit(`form[action="/admin/login"] button[type=submit]`)
	if loc := desk.location(); !strings.HasPrefix(loc, p.base+"/admin") || strings.HasPrefix(loc, p.base+"/admin/login") {
		t.Fatalf("after login: %d at %s\n%s", status, loc, desk.text("body"))
	}
	if status != 200 || !strings.Contains(desk.text("h1"), "Dashboard") {
		t.Fatalf("the dashboard after login: status %d, %q", status, desk.text("h1"))
	}
	desk.shot("09-admin-dashboard")

	// The operator ends Ann's registration; her page follows it to the end.
	desk.navigate(p.base + "/admin/registrations")
	endNow := endNowButton(ann)
	desk.waitVisible(endNow)
	if txt := desk.text(fmt.Sprintf("#registration-%d", ann)); !strings.Contains(txt, "ann@example.com") || !strings.Contains(txt, "ready") {
		t.Errorf("Ann's row: %q", txt)
	}
	desk.shot("10-admin-registrations")
	asked := desk.acceptDialogs()
	if status := desk.submit(endNow); status != 200 {
		t.Fatalf("end now: status %d", status)
	}
	if msg := asked(); !strings.Contains(msg, fmt.Sprintf("End registration %d", ann)) {
		t.Errorf("end now asked %q before acting", msg)
	}
	desk.waitVisible(".flash")
	if txt := desk.text(".flash"); !strings.Contains(txt, "is ending") {
		t.Errorf("after end now: %q", txt)
	}
	if state := p.api("GET", fmt.Sprintf("/api/v1/registrations/%d", ann), nil)["state"]; state != string(wod.StateEnding) &&
		state != string(wod.StateDone) {
		t.Fatalf("after end now the registration is %v", state)
	}
	phone.waitLive(`#state[data-state="done"]`)
	phone.waitVisible("#completion")
	if txt := phone.text("#completion"); !strings.Contains(txt, "50 %") {
		t.Errorf("completion: %q", txt)
	}
	phone.checkMark()
	phone.shot("11-status-done")

	// The rest of the admin pages, each with its screenshot: they render in
	// the browser without a script error or a refused inline style.
	for i, pg := range []struct{ path, h1, name string }{
		{"/admin/workshops", "Workshops", "workshops"},
		{"/admin/workshops/WKSHP-Short", "WKSHP-Short", "workshop-edit"},
		{fmt.Sprintf("/admin/registrations/%d", ann), "Registration", "registration"},
		{"/admin/mails", "Mail outbox", "mails"},
		{"/admin/stats", "Statistics", "statistics"},
		{"/admin/users", "Users and tokens", "users"},
		{"/admin/announcements", "Announcements", "announcements"},
		{"/admin/lti", "Learning platforms", "learning-platforms"},
	} {
		desk.navigate(p.base + pg.path)
		desk.waitVisible("h1")
		if h1 := desk.text("h1"); !strings.Contains(h1, pg.h1) {
			t.Errorf("%s: heading %q, want %q", pg.path, h1, pg.h1)
		}
		desk.shot(fmt.Sprintf("%02d-admin-%s", 13+i, pg.name))
	}
	// A token's secret is shown once; reloading that page does not create
	// a second token.
	desk.navigate(p.base + "/admin/users")
	desk.fill("#token-name", "registration desk")
	if status := desk.submit(`form[action="/admin/tokens"] button[type=submit]`); status != 201 {
		t.Fatalf("create token: status %d", status)
	}
	desk.waitVisible("#new-token")
	if loc := desk.location(); loc != p.base+"/admin/users" {
		t.Errorf("after creating a token the address is %s", loc)
	}
	desk.do("reload", chromedp.Reload())
	desk.waitVisible("h1")
	req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []struct{ Name string }
	json.NewDecoder(res.Body).Decode(&tokens)
	res.Body.Close()
	named := 0
	for _, tk := range tokens {
		if tk.Name == "registration desk" {
			named++
		}
	}
	if named != 1 {
		t.Errorf("%d tokens named \"registration desk\" after a reload, want 1", named)
	}
	// A participant who lost the mail asks for the link again.
	phone.navigate(p.base + "/resend-link")
	phone.fill("#email", "ann@example.com")
	if status := phone.submit(`form[action="/resend-link"] button[type=submit]`); status != 200 {
		t.Fatalf("resend link: status %d", status)
	}
	phone.waitVisible("#resent")
	phone.shot("21-resend-link")

	// Throttling: five attempts run; the fifth failure locks the user name
	// at this address; then even the right password is refused for a while.
	desk.navigate(p.base + "/admin/login")
	desk.waitVisible("#password")
	var last int
	desk.fill("#username", operatorName)
	for i := range 7 {
		desk.fill("#password", fmt.Sprintf("guess-%d", i))
		last = desk.submit(`form[action="/admin/login"] button[type=submit]`)
		if i < 5 && last != 401 {
			t.Fatalf("failed login %d: status %d, want 401", i+1, last)
		}
	}
	if last != 429 {
		t.Fatalf("failed logins 6 and 7: status %d, want 429", last)
	}
	desk.fill("#password", operatorPassword)
	if status := desk.submit(`form[action="/admin/login"] button[type=submit]`); status != 429 {
		t.Fatalf("the right password while locked out: status %d, want 429", status)
	}
	if txt := desk.text("#problem"); !strings.Contains(txt, "Too many failed logins") {
		t.Errorf("throttled: %q", txt)
	}
	desk.shot("12-admin-login-throttled")

	p.waitState(ann, wod.StateDone, 10*time.Second)
	b.checkClean()
	t.Logf("browser scenarios took %s; screenshots in %s", time.Since(b.started).Round(100*time.Millisecond), shots)
}

// endNowButton is the "End now" button of a registration's row on the admin
// registrations page.
func endNowButton(id int64) string {
	return fmt.Sprintf(`form[action="/admin/registrations/%d/end"] button[type=submit]`, id)
}

// findChromium finds Debian's Chromium, or skips (fails under scripts/test).
func findChromium(t *testing.T) string {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else {
			msg := fmt.Sprintf("the browser tests need Chromium at %s (apt-get install chromium; scripts/test installs it)", chromiumPath)
			if os.Getenv(requireBrowserEnv) == "1" {
				t.Fatalf("%s; %s=1 makes this a failure", msg, requireBrowserEnv)
			}
			t.Skip(msg)
		}
	}
	return path
}

// artifactsDir is where the screenshots go: $WOD_TEST_ARTIFACTS, or
// <repo>/artifacts/screenshots (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatalf("no go.mod above %s", wd)
			}
			root = parent
		}
		dir = filepath.Join(root, "artifacts", "screenshots")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Screenshots of an earlier run would pass for this one's.
	old, _ := filepath.Glob(filepath.Join(dir, "browser-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// browser is one headless Chromium for the test.
type browser struct {
	t       *testing.T
	p       *platform
	root    context.Context
	shots   string
	started time.Time

	mu sync.Mutex
	// requests counts what the pages asked for; offsite are requests to
	// anything but the server; errors are JavaScript exceptions and
	// security (CSP) complaints of the pages.
	requests        int
	offsite, errors []string
}

func startBrowser(t *testing.T, path string, p *platform, shots string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		// Only loopback: every host name fails to resolve, and the pages
		// are reached at 127.0.0.1.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserDeadline)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
	})
	if err := chromedp.Do(root); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return &browser{t: t, p: p, root: root, shots: shots, started: time.Now()}
}

// tab opens a tab in a browser context of its own (its own cookies) with a
// viewport of width×height, a phone's when mobile.
func (b *browser) tab(name string, width, height int64, mobile bool) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext(), chromedp.WithListener(b.watch))
	b.t.Cleanup(cancel)
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateLandscape}
	if mobile {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch}
	}
	// The first action binds the tab to ctx, which ends with the browser's
	// deadline; later actions each have a timeout of their own.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		b.t.Fatalf("open the %s's tab: %v", name, err)
	}
	return &tab{b: b, name: name, ctx: ctx}
}

// watch hears every event of the tabs.
func (b *browser) watch(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests++
		u, err := url.Parse(ev.Request.URL)
		if err != nil || (u.Scheme != "data" && u.Host != b.p.addr) {
			b.offsite = append(b.offsite, ev.Request.URL)
		}
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, "exception: "+ev.ExceptionDetails.Text+" "+exceptionDescription(ev.ExceptionDetails))
	case *log.EventEntryAdded:
		if ev.Entry.Source == log.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
			b.errors = append(b.errors, fmt.Sprintf("%s %s: %s (%s)", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// checkClean fails the test if a page went anywhere but the server, threw
// or broke its security policy.
func (b *browser) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.requests == 0 {
		b.t.Errorf("no request of the pages was seen: the network watch is broken")
	}
	if len(b.offsite) > 0 {
		b.t.Errorf("the pages requested other hosts than %s: %q", b.p.addr, slices.Compact(b.offsite))
	}
	if len(b.errors) > 0 {
		b.t.Errorf("the pages reported errors:\n%s", strings.Join(b.errors, "\n"))
	}
}

// tab is one browser tab; its methods fail the test on error, with a
// screenshot of the page and the server's log.
type tab struct {
	b    *browser
	name string
	ctx  context.Context
	n    int // screenshots on failure
}

// step runs one action of the tab with a timeout.
func step[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.fail(what, err)
	}
	return v
}

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	step(tb, what, chromedp.Steps(actions...))
}

func (tb *tab) fail(what string, err error) {
	tb.b.t.Helper()
	where := ""
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		where = " at " + loc
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		tb.n++
		name := filepath.Join(tb.b.shots, fmt.Sprintf("browser-FAILED-%s-%d.png", tb.name, tb.n))
		if os.WriteFile(name, png, 0o644) == nil {
			where += " (screenshot " + name + ")"
		}
	}
	tb.b.t.Fatalf("%s: %s%s: %v\nserver log:\n%s", tb.name, what, where, err, tb.b.p.logs)
}

func (tb *tab) navigate(u string) {
	tb.b.t.Helper()
	resp := step(tb, "open "+u, chromedp.NavigateResponse(u))
	if resp == nil || resp.Status != 200 {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		tb.fail("open "+u, fmt.Errorf("status %d", status))
	}
}

func (tb *tab) waitVisible(sel string) {
	tb.b.t.Helper()
	tb.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitLive waits, longer than for a step, for a page that updates itself.
func (tb *tab) waitLive(sel string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, liveTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		tb.fail("wait for the page to show "+sel+" by itself", err)
	}
}

func (tb *tab) click(sel string) {
	tb.b.t.Helper()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// fill sets the value of a form field.
func (tb *tab) fill(sel, value string) {
	tb.b.t.Helper()
	tb.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
}

// typeIn types into a form field, key by key, after emptying it.
func (tb *tab) typeIn(sel, value string) {
	tb.b.t.Helper()
	tb.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Clear(chromedp.CSS(sel)),
		chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// submit clicks a submit button and waits for the page it leads to; it
// returns that page's HTTP status (after redirects).
func (tb *tab) submit(sel string) int {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	r, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.fail("submit with "+sel, err)
	}
	if r == nil {
		tb.fail("submit with "+sel, errors.New("no response"))
	}
	return int(r.Status)
}

func (tb *tab) text(sel string) string {
	tb.b.t.Helper()
	return strings.TrimSpace(step(tb, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (tb *tab) value(sel string) string {
	tb.b.t.Helper()
	return step(tb, "read the value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (tb *tab) attr(sel, name string) string {
	tb.b.t.Helper()
	return step(tb, "read "+sel+"["+name+"]", chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

func (tb *tab) location() string {
	tb.b.t.Helper()
	return step(tb, "read the location", chromedp.Location())
}

// markPage marks the document, so that checkMark can tell that the page
// changed without being loaded again.
func (tb *tab) markPage() {
	tb.b.t.Helper()
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.wodTestMark = true`))
}

func (tb *tab) checkMark() {
	tb.b.t.Helper()
	if !step(tb, "read the mark", chromedp.Evaluate[bool](`window.wodTestMark === true`)) {
		tb.b.t.Errorf("%s: the page was loaded again instead of updating itself", tb.name)
	}
}

// acceptDialogs answers yes to every confirmation the page asks (forms with
// data-confirm); asked returns the last question.
func (tb *tab) acceptDialogs() (asked func() string) {
	var mu sync.Mutex
	var last string
	dialogs := chromedp.Events(tb.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			last = ev.Message
			mu.Unlock()
			ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			cancel()
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// shot saves a full-page screenshot as browser-NAME.png.
func (tb *tab) shot(name string) {
	tb.b.t.Helper()
	png := step(tb, "screenshot "+name, chromedp.FullScreenshot(100))
	file := filepath.Join(tb.b.shots, "browser-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.b.t.Fatal(err)
	}
	tb.b.t.Logf("%5.1fs screenshot %s", time.Since(tb.b.started).Seconds(), file)
}
