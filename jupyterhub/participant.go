package jupyterhub

import (
	"bytes"
	"context"
	"crypto/rand"
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

	"github.com/coder/websocket"
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
// the password.
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
	return res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther, nil
}

// Open reaches the participant's notebook server through the hub (OAuth
// redirects included, starting it if needed), so that its cookie is set.
// It gives up when ctx ends.
func (p *Participant) Open(ctx context.Context) error {
	var last error
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
		// The hub may still be spawning: /hub/user/<name> starts it if needed.
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, p.Hub+"/hub/user/"+url.PathEscape(p.Name)+"/", nil)
		if res, err := p.client.Do(req); err == nil {
			res.Body.Close()
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
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, bytes.TrimSpace(b[:min(len(b), 300)]))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
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
	err := p.API(ctx, http.MethodGet, "/api/contents/"+path+"?type=notebook&content=1", nil, &out)
	return out.Content, err
}

// SaveNotebook writes a notebook as the notebook page saves it.
func (p *Participant) SaveNotebook(ctx context.Context, path string, nb map[string]any) error {
	return p.API(ctx, http.MethodPut, "/api/contents/"+path, map[string]any{"type": "notebook", "format": "json", "content": nb}, nil)
}

// Execute runs code in a new python3 kernel over the Jupyter messaging
// protocol and returns the execution count and the text it printed. The
// kernel is shut down after.
func (p *Participant) Execute(ctx context.Context, code string) (int, string, error) {
	var k struct {
		ID string `json:"id"`
	}
	if err := p.API(ctx, http.MethodPost, "/api/kernels", map[string]string{"name": "python3"}, &k); err != nil {
		return 0, "", err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = p.API(ctx, http.MethodDelete, "/api/kernels/"+k.ID, nil, nil)
	}()
	u, _ := url.Parse(p.userBase + "/api/kernels/" + k.ID + "/channels")
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	hdr := http.Header{}
	var cookies []string
	for _, c := range p.jar.Cookies(&url.URL{Scheme: strings.Replace(u.Scheme, "ws", "http", 1), Host: u.Host, Path: u.Path}) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	hdr.Set("Cookie", strings.Join(cookies, "; "))
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return 0, "", fmt.Errorf("kernel channels: %w", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 22)
	msgID := rand.Text()
	msg := map[string]any{
		"header": map[string]any{"msg_id": msgID, "username": p.Name, "session": rand.Text(), "msg_type": "execute_request",
			"version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "channel": "shell",
		"content": map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
			"allow_stdin": false, "stop_on_error": true},
	}
	b, _ := json.Marshal(msg)
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		return 0, "", err
	}
	// The request is over when the reply (shell) has come and the kernel
	// is idle again (iopub): the two travel on different sockets, so a
	// cell's last output may arrive after its reply.
	var printed strings.Builder
	var reply error
	count, replied, idle := 0, false, false
	for !replied || !idle {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return 0, printed.String(), err
		}
		var m struct {
			ParentHeader struct {
				MsgID string `json:"msg_id"`
			} `json:"parent_header"`
			Header struct {
				MsgType string `json:"msg_type"`
			} `json:"header"`
			Content map[string]any `json:"content"`
		}
		if json.Unmarshal(data, &m) != nil || m.ParentHeader.MsgID != msgID {
			continue
		}
		switch m.Header.MsgType {
		case "stream":
			printed.WriteString(fmt.Sprint(m.Content["text"]))
		case "status":
			idle = idle || m.Content["execution_state"] == "idle"
		case "execute_reply":
			replied = true
			if m.Content["status"] != "ok" {
				reply = fmt.Errorf("%w: %v %v", ErrExecution, m.Content["ename"], m.Content["evalue"])
			}
			n, _ := m.Content["execution_count"].(float64)
			count = int(n)
		}
	}
	if reply != nil {
		return 0, printed.String(), reply
	}
	return count, printed.String(), nil
}

// ErrExecution is code that raised in the kernel.
var ErrExecution = errors.New("the code raised an error")
