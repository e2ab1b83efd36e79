package jupyterhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "s3cr3t-T0KEN-value"

// newTestClient returns a client for srv with fast retries and polls.
func newTestClient(srv *httptest.Server) *Client {
	return &Client{URL: srv.URL, Token: testToken, HTTP: srv.Client(), retryBase: time.Millisecond, pollEvery: 5 * time.Millisecond}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func hubError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"status": status, "message": msg})
}

// checkAuth fails the request (and the test) when the token header is wrong.
func checkAuth(t *testing.T, w http.ResponseWriter, r *http.Request) bool {
	if got := r.Header.Get("Authorization"); got != "token "+testToken {
		t.Errorf("%s %s: Authorization = %q", r.Method, r.URL.Path, got)
		hubError(w, http.StatusForbidden, "bad token")
		return false
	}
	return true
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureUser(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !checkAuth(t, w, r) {
			return
		}
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/hub/api/users/student1":
			if calls.Add(1) == 1 {
				writeJSON(w, http.StatusCreated, map[string]any{"name": "student1"})
			} else {
				hubError(w, http.StatusConflict, "User student1 already exists")
			}
		case "/hub/api/users/bad%20name", "/hub/api/users/bad name":
			hubError(w, http.StatusBadRequest, "Invalid username: bad name")
		default:
			hubError(w, http.StatusNotFound, "")
		}
	}))
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	if err := c.EnsureUser(ctx, "student1"); err != nil {
		t.Fatalf("first EnsureUser: %v", err)
	}
	if err := c.EnsureUser(ctx, "student1"); err != nil {
		t.Fatalf("EnsureUser on an existing user (409): %v", err)
	}
	err := c.EnsureUser(ctx, "bad name")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "Invalid username: bad name") {
		t.Fatalf("EnsureUser(bad name) = %v, want a 400 with the hub's message", err)
	}
	if err := c.EnsureUser(ctx, "a/b"); err == nil {
		t.Fatal("EnsureUser accepted a name with a slash")
	}
}

func TestUserAndNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !checkAuth(t, w, r) {
			return
		}
		switch r.URL.Path {
		case "/hub/api/users/student1":
			// A 3.0 user model, as the hub writes it.
			_, _ = w.Write([]byte(`{"kind": "user", "name": "student1", "admin": false, "roles": ["user"], "groups": [],
				"server": "/user/student1/", "pending": null, "created": "2024-05-01T10:00:00.123456Z",
				"last_activity": null, "servers": {"": {"name": "", "last_activity": "2024-05-01T10:01:00.000000Z",
				"started": "2024-05-01T10:00:30.000000Z", "pending": null, "ready": true, "stopped": false,
				"url": "/user/student1/", "user_options": {}, "progress_url": "/hub/api/users/student1/server/progress"}}}`))
		default:
			hubError(w, http.StatusNotFound, "")
		}
	}))
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	u, err := c.User(ctx, "student1")
	if err != nil {
		t.Fatal(err)
	}
	s := u.Servers[""]
	if u.Name != "student1" || u.Server != "/user/student1/" || u.Pending != "" || !s.Ready || s.URL != "/user/student1/" ||
		s.Started.IsZero() || u.Created.Year() != 2024 || !u.LastActivity.IsZero() {
		t.Fatalf("User = %+v", u)
	}
	_, err = c.User(ctx, "nobody")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("User(nobody) = %v, want ErrNotFound", err)
	}
}

// fakeSpawnHub simulates a server that takes a few polls to start or stop.
type fakeSpawnHub struct {
	t        *testing.T
	mu       sync.Mutex
	state    string // "stopped", "spawning", "ready", "stopping", "failed"
	polls    int    // GET user calls while in a transition
	progress string // "events", "broken" (500), "fail"
	posts    int
	deletes  int
}

// snapshot reads the counters under the lock.
func (f *fakeSpawnHub) snapshot() (state string, polls, posts, deletes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, f.polls, f.posts, f.deletes
}

func (f *fakeSpawnHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkAuth(f.t, w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/hub/api/users/s1/server":
		f.posts++
		switch f.state {
		case "ready":
			hubError(w, 400, "s1 is already running")
		case "stopping":
			hubError(w, 400, "s1 is pending stop")
		default:
			f.state, f.polls = "spawning", 0
			w.WriteHeader(http.StatusAccepted)
		}
	case r.Method == http.MethodDelete && r.URL.Path == "/hub/api/users/s1/server":
		f.deletes++
		switch f.state {
		case "spawning":
			hubError(w, 400, "s1 is pending spawn, please wait")
		case "ready":
			f.state, f.polls = "stopping", 0
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/hub/api/users/s1":
		f.polls++
		// Transitions complete after three polls.
		if f.polls >= 3 {
			switch f.state {
			case "spawning":
				f.state = "ready"
			case "stopping":
				f.state = "stopped"
			}
		}
		servers := map[string]any{}
		switch f.state {
		case "spawning":
			servers[""] = map[string]any{"ready": false, "pending": "spawn"}
		case "stopping":
			servers[""] = map[string]any{"ready": true, "pending": "stop"}
		case "ready":
			servers[""] = map[string]any{"ready": true, "pending": nil, "url": "/user/s1/"}
		}
		writeJSON(w, 200, map[string]any{"name": "s1", "servers": servers})
	case r.Method == http.MethodGet && r.URL.Path == "/hub/api/users/s1/server/progress":
		switch f.progress {
		case "broken":
			hubError(w, 500, "boom")
			return
		case "fail":
			f.state = "failed"
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"progress\": 50, \"message\": \"Spawning\"}\n\n")
			fmt.Fprint(w, "data: {\"progress\": 100, \"failed\": true, \"message\": \"Spawn failed: Timeout\"}\n\n")
			return
		}
		f.state = "ready"
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "\n\ndata: {\"progress\": 0, \"message\": \"Server requested\"}\n\n")
		fmt.Fprint(w, "data: {\"progress\": 100, \"ready\": true, \"message\": \"Server ready at /user/s1/\", \"url\": \"/user/s1/\"}\n\n")
	default:
		hubError(w, 404, "")
	}
}

func TestStartServerWaitsThroughProgress(t *testing.T) {
	f := &fakeSpawnHub{t: t, state: "stopped", progress: "events"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	if err := c.StartServer(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if st, _, _, _ := f.snapshot(); st != "ready" {
		t.Fatalf("state %s", st)
	}
	// Already running (400) is success.
	if err := c.StartServer(ctx, "s1"); err != nil {
		t.Fatalf("StartServer on a running server: %v", err)
	}
}

func TestStartServerPollsWhenProgressBroken(t *testing.T) {
	f := &fakeSpawnHub{t: t, state: "stopped", progress: "broken"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	if err := c.StartServer(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if st, polls, _, _ := f.snapshot(); st != "ready" || polls < 3 {
		t.Fatalf("state %s after %d polls", st, polls)
	}
}

func TestStartServerReportsSpawnFailure(t *testing.T) {
	f := &fakeSpawnHub{t: t, state: "stopped", progress: "fail"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	err := c.StartServer(ctx, "s1")
	var se *SpawnError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "Spawn failed: Timeout") {
		t.Fatalf("StartServer = %v, want a SpawnError with the hub's message", err)
	}
}

func TestStartServer201(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if checkAuth(t, w, r) && r.Method == http.MethodPost && r.URL.Path == "/hub/api/users/s1/server" {
			w.WriteHeader(http.StatusCreated)
			return
		}
		t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	if err := newTestClient(srv).StartServer(testCtx(t), "s1"); err != nil {
		t.Fatal(err)
	}
}

func TestStartServerWaitsForPendingStop(t *testing.T) {
	f := &fakeSpawnHub{t: t, state: "stopping", progress: "events"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	if err := newTestClient(srv).StartServer(testCtx(t), "s1"); err != nil {
		t.Fatal(err)
	}
	if st, _, posts, _ := f.snapshot(); st != "ready" || posts != 2 {
		t.Fatalf("state %s after %d POSTs", st, posts)
	}
}

func TestStopServer(t *testing.T) {
	f := &fakeSpawnHub{t: t, state: "ready"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	if err := c.StopServer(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if st, _, _, _ := f.snapshot(); st != "stopped" {
		t.Fatalf("state %s", st)
	}
	// Idempotent: stopping a stopped server (204).
	if err := c.StopServer(ctx, "s1"); err != nil {
		t.Fatalf("second StopServer: %v", err)
	}
	// A pending spawn is waited out, then stopped.
	f.mu.Lock()
	f.state, f.polls, f.deletes = "spawning", 0, 0
	f.mu.Unlock()
	if err := c.StopServer(ctx, "s1"); err != nil {
		t.Fatalf("StopServer during a spawn: %v", err)
	}
	if st, _, _, deletes := f.snapshot(); st != "stopped" || deletes != 2 {
		t.Fatalf("state %s after %d DELETEs", st, deletes)
	}
}

func TestStopServerIdempotentAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hub/api/users/gone/server":
			hubError(w, 404, "")
		case "/hub/api/users/idle/server":
			hubError(w, 400, "idle's server is not running")
		case "/hub/api/users/ghost/server":
			// What 3.0 answers for an unknown user.
			hubError(w, 500, "Unhandled error")
		case "/hub/api/users/ghost":
			hubError(w, 404, "")
		default:
			hubError(w, 404, "")
		}
	}))
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	for _, name := range []string{"gone", "idle", "ghost"} {
		if err := c.StopServer(ctx, name); err != nil {
			t.Errorf("StopServer(%s) = %v", name, err)
		}
	}
}

func TestDeleteUser(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("method %s", r.Method)
		}
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		hubError(w, 404, "")
	}))
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	for range 2 {
		if err := c.DeleteUser(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryAfterOn429(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			hubError(w, http.StatusTooManyRequests, "Too many users trying to log in right now. Try again in 30 seconds.")
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, ctx := newTestClient(srv), testCtx(t)
	start := time.Now()
	if err := c.StartServer(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("retried after %v, want Retry-After's 1 s", d)
	}
	if n.Load() != 2 {
		t.Fatalf("%d requests", n.Load())
	}
}

func TestRetryAfterBoundedByContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		hubError(w, http.StatusTooManyRequests, "slow down")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := newTestClient(srv).StartServer(ctx, "s1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"":        time.Second,
		"2":       2 * time.Second,
		"3600":    maxRetryAfter,
		"0":       100 * time.Millisecond,
		"garbage": time.Second,
	} {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	date := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	if got := retryAfter(date); got < 3*time.Second || got > 5*time.Second {
		t.Errorf("retryAfter(date) = %v", got)
	}
}

func TestRetriesOn5xx(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "<html>503 Service Unavailable</html>", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, 201, map[string]any{"name": "s1"})
	}))
	defer srv.Close()
	if err := newTestClient(srv).EnsureUser(testCtx(t), "s1"); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests, want 3", n.Load())
	}
}

func TestGivesUpOnPersistent5xx(t *testing.T) {
	for status, wantCalls := range map[int]int32{503: transientRetries + 1, 500: internalErrorRetries + 1} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			hubError(w, status, "Unhandled error starting s1's server: spawner exploded")
		}))
		err := newTestClient(srv).StartServer(testCtx(t), "s1")
		srv.Close()
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != status || !strings.Contains(err.Error(), "spawner exploded") {
			t.Errorf("%d: err = %v", status, err)
		}
		if n.Load() != wantCalls {
			t.Errorf("%d: %d requests, want %d", status, n.Load(), wantCalls)
		}
	}
}

func TestConnectionErrorsRetryThenFail(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c := &Client{URL: url, Token: testToken, retryBase: time.Millisecond}
	start := time.Now()
	err := c.EnsureUser(testCtx(t), "s1")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("error contains the token: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestErrorsNeverContainTheToken(t *testing.T) {
	// A hostile or verbose proxy echoing the request's headers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hubError(w, http.StatusForbidden, "denied for "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	err := newTestClient(srv).EnsureUser(testCtx(t), "s1")
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("err = %v, want the echoed token redacted", err)
	}
}

func TestVersion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/base/hub/api/" {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, 200, map[string]string{"version": "3.0.0"})
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL + "/base/"}
	v, err := c.Version(testCtx(t))
	if err != nil || v != "3.0.0" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	c.URL = srv.URL
	if _, err := c.Version(testCtx(t)); err == nil {
		t.Fatal("Version of a non-hub succeeded")
	}
}

func TestNewExternal(t *testing.T) {
	scopes := []string{"admin:users", "admin:servers", "tokens", "list:users", "read:users!group=students"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jh/hub/api/":
			writeJSON(w, 200, map[string]string{"version": "3.0.0"})
		case "/jh/hub/api/user":
			switch r.Header.Get("Authorization") {
			case "token good":
				writeJSON(w, 200, map[string]any{"kind": "service", "name": "wod", "scopes": scopes})
			case "token weak":
				writeJSON(w, 200, map[string]any{"kind": "user", "name": "bob", "scopes": []string{"self"}})
			default:
				hubError(w, 403, "Forbidden")
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := NewExternal(t.Context(), srv.URL+"/jh/hub/api/", " good ")
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != srv.URL+"/jh" || c.Token != "good" {
		t.Fatalf("client %q %q", c.URL, c.Token)
	}
	for _, tc := range []struct{ url, token, want string }{
		{"ftp://x", "good", "http(s)"},
		{srv.URL + "/jh?token=abc", "good", "query"},
		{srv.URL + "/jh", "", "token is required"},
		{srv.URL + "/jh", "bad", "refuses the token"},
		{srv.URL + "/jh", "weak", "lacks the scopes admin:users"},
		{srv.URL + "/nothere", "good", "no JupyterHub answers"},
	} {
		_, err := NewExternal(t.Context(), tc.url, tc.token)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewExternal(%q, %q) = %v, want %q", tc.url, tc.token, err, tc.want)
		}
		if err != nil && tc.token != "" && strings.Contains(err.Error(), "token "+tc.token) {
			t.Errorf("error shows the token: %v", err)
		}
	}
}

// TestNewExternalEndsWithContext: the checks stop with the caller's
// context, not only after externalCheckTimeout.
func TestNewExternalEndsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a hub that never answers
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := NewExternal(ctx, srv.URL, "good"); err == nil {
		t.Fatal("NewExternal of a silent hub succeeded")
	}
	if took := time.Since(start); took > externalCheckTimeout/2 {
		t.Errorf("NewExternal returned %v after its context ended", took-100*time.Millisecond)
	}
}
