package jupyterhub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Participant is a student's browser, reduced to what a participant does:
// the hub's login form, their notebook server's contents API and a kernel.
// The load test and the end-to-end tests drive the hub with it.
type Participant struct {
	Hub  string // the hub's public URL, e.g. http://127.0.0.1:8000
	Name string // the hub user, studentN

	client   *http.Client
	jar      *cookiejar.Jar
	userBase string // Hub + /user/<name>
}

// NewParticipant returns a participant with no session yet.
func NewParticipant(hub, name string) *Participant {
	hub = strings.TrimSuffix(hub, "/")
	jar, _ := cookiejar.New(nil)
	return &Participant{Hub: hub, Name: name, jar: jar, userBase: hub + "/user/" + url.PathEscape(name),
		client: &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: browserAccept{}}}
}

// browserAccept sends the Accept header a browser sends when a request has
// none: JupyterHub 3.0 answers 500 to a page request without one.
type browserAccept struct{}

func (browserAccept) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Accept") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	return http.DefaultTransport.RoundTrip(r)
}

var xsrfField = regexp.MustCompile(`name="_xsrf"\s+value="([^"]+)"`)

// Login posts the hub's login form. It returns false when the hub refuses
// the password, and an error when its login throttle refuses the attempt
// (which a room's burst never meets: the throttle counts failures only).
func (p *Participant) Login(ctx context.Context, password string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Hub+"/hub/login", nil)
	if err != nil {
		return false, err
	}
	res, err := p.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("the hub's login page: %w", err)
	}
	page, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("the hub's login page: %s", res.Status)
	}
	form := url.Values{"username": {p.Name}, "password": {password}}
	if m := xsrfField.FindSubmatch(page); m != nil {
		form.Set("_xsrf", string(m[1]))
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.Hub+"/hub/login?next=", strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Do not follow the redirect: where it goes says whether it worked.
	noFollow := *p.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = noFollow.Do(req)
	if err != nil {
		return false, fmt.Errorf("the hub's login form: %w", err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusTooManyRequests {
		return false, fmt.Errorf("the hub's login throttle refused the login after failed ones (429, retry after %s s)",
			res.Header.Get("Retry-After"))
	}
	return res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther, nil
}

// Open reaches the participant's notebook server through the hub (OAuth
// redirects included, spawning it if it is stopped), so that its cookie is
// set.
// It gives up when ctx ends.
func (p *Participant) Open(ctx context.Context) error {
	// What a browser does after the login (the hub redirects it to its
	// server, redirect_to_server): the server's page, through the OAuth
	// redirects that set the server's cookie. A running server answers at
	// once; a stopped or starting one takes the loop below.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.userBase+"/", nil)
	if res, err := p.client.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK && strings.HasPrefix(res.Request.URL.String(), p.userBase+"/") {
			return nil
		}
	} else if ctx.Err() != nil {
		return fmt.Errorf("the notebook server of %s did not answer: %w", p.Name, err)
	}
	var last error
	askedAgain := false
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.userBase+"/api/status", nil)
		res, err := p.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", res.Status)
		}
		last = err
		// /hub/spawn/<name> starts a stopped server (there is no options
		// form), waits for a pending one, and sends a running one's visitor
		// through the OAuth redirects that set its cookie. /hub/user/<name>
		// would only answer 424 "not running" for a stopped one.
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, p.Hub+"/hub/spawn/"+url.PathEscape(p.Name), nil)
		if res, err := p.client.Do(req); err == nil {
			res.Body.Close()
			// The redirects ended at the running server: its cookie is set,
			// ask again now rather than after a pause (once: a server that
			// keeps refusing must not be asked in a tight loop).
			if !askedAgain && res.StatusCode == http.StatusOK && strings.HasPrefix(res.Request.URL.String(), p.userBase+"/") {
				askedAgain = true
				continue
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the notebook server of %s did not answer: %v", p.Name, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (p *Participant) xsrf() string {
	u, _ := url.Parse(p.userBase + "/")
	for _, c := range p.jar.Cookies(u) {
		if c.Name == "_xsrf" {
			return c.Value
		}
	}
	return ""
}

// API calls the notebook server's REST API (path after /user/<name>).
func (p *Participant) API(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.userBase+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-XSRFToken", p.xsrf())
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, serverError(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// serverError is what an error answer of the notebook server says: its
// message and the last line of its traceback (where Python names the cause)
// when it is Jupyter's JSON, else the start of the body.
func serverError(body []byte) string {
	var e struct {
		Message   string `json:"message"`
		Traceback string `json:"traceback"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return string(bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	lines := strings.Split(strings.TrimSpace(e.Traceback), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return e.Message + ": " + last
	}
	return e.Message
}

// CreateToken makes an API token as a participant can, from their login
// cookie (what the hub's /hub/token page does). Tokens a participant made
// must die with their seat; the tests keep one to try.
func (p *Participant) CreateToken(ctx context.Context) (string, error) {
	path := "/hub/api/users/" + url.PathEscape(p.Name) + "/tokens"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Hub+path,
		strings.NewReader(`{"note":"participant token"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// 3.0 takes a cookie-authenticated API call only from its own pages.
	req.Header.Set("Referer", p.Hub+"/hub/token")
	res, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST %s: %s %s", path, res.Status, bytes.TrimSpace(b[:min(len(b), 300)]))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("POST %s: no token in %q", path, b[:min(len(b), 300)])
	}
	return out.Token, nil
}

// Notebook reads a notebook through the contents API.
func (p *Participant) Notebook(ctx context.Context, path string) (map[string]any, error) {
	var out struct {
		Content map[string]any `json:"content"`
	}
	err := p.API(ctx, http.MethodGet, contentsPath(path)+"?type=notebook&content=1", nil, &out)
	return out.Content, err
}

// SaveNotebook writes a notebook as the notebook page saves it.
func (p *Participant) SaveNotebook(ctx context.Context, path string, nb map[string]any) error {
	return p.API(ctx, http.MethodPut, contentsPath(path), map[string]any{"type": "notebook", "format": "json", "content": nb}, nil)
}

// Execute runs code in a new python3 kernel over the Jupyter messaging
// protocol and returns the execution count and the text it printed. The
// kernel is shut down after.
func (p *Participant) Execute(ctx context.Context, code string) (int, string, error) {
	id, err := p.startKernel(ctx, "python3")
	if err != nil {
		return 0, "", err
	}
	defer p.shutdownKernel(ctx, id)
	k, err := p.dialKernel(ctx, id)
	if err != nil {
		return 0, "", err
	}
	defer k.close()
	msgID, err := k.execute(ctx, code, false, true)
	if err != nil {
		return 0, "", err
	}
	var ex execution
	if err := k.await(ctx, msgID, &ex, nil, nil); err != nil {
		return 0, ex.printed(), err
	}
	if ex.status != "ok" {
		return 0, ex.printed(), fmt.Errorf("%w: %v %v", ErrExecution, ex.ename, ex.evalue)
	}
	return ex.count, ex.printed(), nil
}

// contentsPath is the contents API's URL path of a file (slash path from
// the home), each element escaped: notebook names may hold spaces, "#" or "?".
func contentsPath(path string) string {
	parts := strings.Split(path, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return "/api/contents/" + strings.Join(parts, "/")
}

// ErrExecution is code that raised in the kernel.
var ErrExecution = errors.New("the code raised an error")
