package jupyterhub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is matched (errors.Is) by errors for a user or server the hub
// does not know (HTTP 404).
var ErrNotFound = errors.New("jupyterhub: not found")

// Retry policy. The hub is a single Python process that the agent may be
// restarting (managed mode) or that an operator restarts (external mode), so
// connection errors and 5xx are expected for a few seconds; 429 is the hub's
// own spawn throttle (concurrent_spawn_limit, active_server_limit).
const (
	// transientRetries is how many times a request is repeated after a
	// connection error or a 502/503/504 (a proxy in front of a hub that is
	// down). With the backoff below that spans ~12 s, enough for a
	// supervised hub to come back (measured 2–4 s here).
	transientRetries = 6
	// internalErrorRetries is the same for a 500, the hub's own answer to an
	// exception. Those are mostly deterministic (3.0 answers 500 to a stop
	// for an unknown user; a spawn that failed fast is a 500), so they are
	// repeated only twice, for the transient kind (sqlite "database is
	// locked" under load).
	internalErrorRetries = 2
	defaultRetryBase     = 250 * time.Millisecond
	maxRetryBackoff      = 4 * time.Second
	// Retry-After on a 429 defaults to 1 s and is capped: the hub proposes
	// 30–60 s (spawn_throttle_retry_range), which is longer than a caller
	// whose context allows, say, 20 s should have to sleep in one go.
	defaultRetryAfter = time.Second
	maxRetryAfter     = 30 * time.Second
	// attemptTimeout bounds one ordinary request. A POST …/server can take up
	// to the hub's slow_spawn_timeout (10 s) before it answers 202.
	attemptTimeout = 60 * time.Second
	// maxBody bounds what we read from a response; user models are small.
	maxBody = 4 << 20
)

// Client talks to the REST API of one JupyterHub. It follows JupyterHub 3.0
// (Debian bookworm) semantics, which later versions keep for everything used
// here. The zero value is not usable: set URL and Token.
type Client struct {
	// URL is the hub's base URL, e.g. http://127.0.0.1:8081 or
	// https://hub.example.org/jupyter; the API is at URL+"/hub/api".
	URL string
	// Token is an API token (a service token in managed mode). It is sent as
	// "Authorization: token <Token>" and never appears in errors.
	Token string
	// HTTP is the client used; nil means http.DefaultClient. Do not give it a
	// Timeout shorter than a spawn if you want spawn progress streaming; the
	// Client bounds ordinary requests itself.
	HTTP *http.Client

	// retryBase is the first backoff after a transient failure; zero means
	// defaultRetryBase. Tests shorten it.
	retryBase time.Duration
	// pollEvery is the interval of state polling while a server starts or
	// stops; zero means defaultPollEvery.
	pollEvery time.Duration
}

// User is the hub's user model (the fields wod uses).
type User struct {
	Name   string   `json:"name"`
	Admin  bool     `json:"admin"`
	Groups []string `json:"groups"`
	Roles  []string `json:"roles"`
	// Server is the URL path of the default server when it is running, else "".
	Server string `json:"server"`
	// Pending is "spawn" or "stop" while the default server is changing state.
	Pending      string    `json:"pending"`
	Created      time.Time `json:"created"`
	LastActivity time.Time `json:"last_activity"`
	// Servers holds the active (running or pending) servers by name; the
	// default server is "". A stopped server is absent. The hub only fills
	// this in for tokens with read:servers.
	Servers map[string]Server `json:"servers"`
}

// Server is the hub's server model.
type Server struct {
	Name         string    `json:"name"`
	Ready        bool      `json:"ready"`
	Pending      string    `json:"pending"`
	Stopped      bool      `json:"stopped"`
	URL          string    `json:"url"`
	ProgressURL  string    `json:"progress_url"`
	Started      time.Time `json:"started"`
	LastActivity time.Time `json:"last_activity"`
}

// APIError is a response from the hub that the call could not treat as
// success. Message is the hub's own explanation (JSON "message") when it gave
// one.
type APIError struct {
	Method  string
	Path    string
	Status  int
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("jupyterhub: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Version returns the hub's version (GET /hub/api/, which needs no token).
func (c *Client) Version(ctx context.Context) (string, error) {
	resp, err := c.call(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		return "", c.apiError(http.MethodGet, "/", resp)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(resp.body, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("jupyterhub: GET %s: not a JupyterHub API answer (is the URL the hub's base URL?)", c.apiURL("/"))
	}
	return v.Version, nil
}

// EnsureUser creates the hub user name if it does not exist yet. An existing
// user (409) is success. With the PAM authenticator the Unix account must
// already exist, or the hub answers 400 "Failed to create user".
func (c *Client) EnsureUser(ctx context.Context, name string) error {
	path, err := userPath(name, "")
	if err != nil {
		return err
	}
	resp, err := c.call(ctx, http.MethodPost, path, nil)
	if err != nil {
		return err
	}
	switch resp.status {
	case http.StatusCreated, http.StatusOK, http.StatusConflict:
		return nil
	}
	return c.apiError(http.MethodPost, path, resp)
}

// User returns the hub's model of user name, or an error matching
// ErrNotFound.
func (c *Client) User(ctx context.Context, name string) (*User, error) {
	path, err := userPath(name, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, c.apiError(http.MethodGet, path, resp)
	}
	var u User
	if err := json.Unmarshal(resp.body, &u); err != nil {
		return nil, fmt.Errorf("jupyterhub: GET %s: decoding user: %w", path, err)
	}
	return &u, nil
}

// DeleteUser removes the hub user name, stopping its server first. A user
// that does not exist is success.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	path, err := userPath(name, "")
	if err != nil {
		return err
	}
	for {
		resp, err := c.call(ctx, http.MethodDelete, path, nil)
		if err != nil {
			return err
		}
		switch {
		case resp.status == http.StatusNoContent || resp.status == http.StatusOK || resp.status == http.StatusNotFound:
			return nil
		case resp.status == http.StatusBadRequest && isPendingMessage(resp):
			// 3.0 refuses to delete a user whose server is still stopping
			// (or starting): wait for that to settle, then ask again.
			if err := c.waitSettled(ctx, name); err != nil {
				return err
			}
			continue
		}
		return c.apiError(http.MethodDelete, path, resp)
	}
}

// whoami returns the identity and scopes of the token (GET /hub/api/user).
func (c *Client) whoami(ctx context.Context) (kind, name string, scopes []string, err error) {
	resp, err := c.call(ctx, http.MethodGet, "/user", nil)
	if err != nil {
		return "", "", nil, err
	}
	if resp.status != http.StatusOK {
		return "", "", nil, c.apiError(http.MethodGet, "/user", resp)
	}
	var m struct {
		Kind   string   `json:"kind"`
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return "", "", nil, fmt.Errorf("jupyterhub: GET /user: decoding: %w", err)
	}
	return m.Kind, m.Name, m.Scopes, nil
}

// userPath builds /users/{name}{suffix} with the name escaped.
func userPath(name, suffix string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("jupyterhub: invalid user name %q", name)
	}
	return "/users/" + url.PathEscape(name) + suffix, nil
}

// response is a fully read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one API request, repeating it on 429 (after Retry-After) and on
// connection errors and 5xx (with backoff, a bounded number of times). It
// returns the last response whatever its status; the error is for transport
// failures that outlived the retries and for the end of ctx.
func (c *Client) call(ctx context.Context, method, path string, body any) (*response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("jupyterhub: %s %s: encoding body: %w", method, path, err)
		}
	}
	backoff := c.retryBase
	if backoff <= 0 {
		backoff = defaultRetryBase
	}
	transient := 0
	for {
		resp, err := c.once(ctx, method, path, payload)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("jupyterhub: %s %s: %w", method, path, ctx.Err())
		}
		var wait time.Duration
		switch {
		case err == nil && resp.status == http.StatusTooManyRequests:
			wait = retryAfter(resp.header.Get("Retry-After"))
		case err != nil || resp.status >= 500:
			limit := transientRetries
			if err == nil && resp.status == http.StatusInternalServerError {
				limit = internalErrorRetries
			}
			if transient >= limit {
				if err != nil {
					return nil, err
				}
				return resp, nil
			}
			transient++
			wait = backoff
			backoff = min(backoff*2, maxRetryBackoff)
		default:
			return resp, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("jupyterhub: %s %s: %w", method, path, ctx.Err())
		case <-t.C:
		}
	}
}

// once sends a single request and reads the whole answer.
func (c *Client) once(ctx context.Context, method, path string, payload []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, payload)
	if err != nil {
		return nil, err
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: %s %s: reading answer: %w", method, path, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, payload []byte) (*http.Request, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.apiURL(path), rd)
	if err != nil {
		// The URL is operator input; it never contains the token.
		return nil, fmt.Errorf("jupyterhub: %s %s: %w", method, path, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "token "+c.Token)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func (c *Client) apiURL(path string) string {
	return strings.TrimRight(c.URL, "/") + "/hub/api" + path
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// apiError turns an unexpected answer into an *APIError carrying the hub's
// message. The token is scrubbed from the message in case a proxy in front of
// the hub echoes request headers.
func (c *Client) apiError(method, path string, resp *response) error {
	msg := hubMessage(resp.body)
	if c.Token != "" {
		msg = strings.ReplaceAll(msg, c.Token, "[REDACTED]")
	}
	return &APIError{Method: method, Path: "/hub/api" + path, Status: resp.status, Message: msg}
}

// hubMessage extracts {"message": …} from a hub error body, falling back to
// the first line of a non-JSON body (a proxy's error page), shortened.
func hubMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(body))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// isPendingMessage reports whether a 400 is the hub saying a server is
// "pending spawn"/"pending stop" (a transitional state to wait out).
func isPendingMessage(resp *response) bool {
	return strings.Contains(hubMessage(resp.body), "pending")
}

// retryAfter parses a Retry-After header (seconds, or an HTTP date).
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultRetryAfter
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	} else {
		return defaultRetryAfter
	}
	if d <= 0 {
		// "retry now": still pause a little so that a misbehaving server
		// cannot make us spin.
		return 100 * time.Millisecond
	}
	return min(d, maxRetryAfter)
}
