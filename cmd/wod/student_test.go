package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
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

// student is a participant's browser, reduced to what the tests need: the
// hub's login form, the notebook server's contents API and a kernel.
type student struct {
	hub      string // e.g. http://127.0.0.1:18000
	name     string
	client   *http.Client
	jar      *cookiejar.Jar
	userBase string // hub + /user/<name>
}

func newStudent(hub, name string) *student {
	jar, _ := cookiejar.New(nil)
	return &student{hub: hub, name: name, jar: jar, userBase: hub + "/user/" + name,
		client: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

var xsrfField = regexp.MustCompile(`name="_xsrf"\s+value="([^"]+)"`)

// login posts the hub's login form. It returns false when the hub refuses
// the password.
func (s *student) login(password string) (bool, error) {
	res, err := s.client.Get(s.hub + "/hub/login")
	if err != nil {
		return false, err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := url.Values{"username": {s.name}, "password": {password}}
	if m := xsrfField.FindSubmatch(page); m != nil {
		form.Set("_xsrf", string(m[1]))
	}
	// Do not follow the redirect: where it goes says whether it worked.
	noFollow := *s.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = noFollow.PostForm(s.hub+"/hub/login?next=", form)
	if err != nil {
		return false, err
	}
	res.Body.Close()
	return res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther, nil
}

// open reaches the student's notebook server through the hub (OAuth
// redirects included), so that its cookie is set.
func (s *student) open(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.userBase+"/api/status", nil)
		res, err := s.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the notebook server of %s did not answer: %v %v", s.name, err, res)
		}
		// The hub may still be spawning: /hub/user/<name> starts it if needed.
		if res, err := s.client.Get(s.hub + "/hub/user/" + s.name + "/"); err == nil {
			res.Body.Close()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *student) xsrf() string {
	u, _ := url.Parse(s.userBase + "/")
	for _, c := range s.jar.Cookies(u) {
		if c.Name == "_xsrf" {
			return c.Value
		}
	}
	return ""
}

func (s *student) api(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, s.userBase+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-XSRFToken", s.xsrf())
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// notebook reads a notebook through the contents API.
func (s *student) notebook(ctx context.Context, path string) (map[string]any, error) {
	var out struct {
		Content map[string]any `json:"content"`
	}
	err := s.api(ctx, "GET", "/api/contents/"+path+"?type=notebook&content=1", nil, &out)
	return out.Content, err
}

func (s *student) saveNotebook(ctx context.Context, path string, nb map[string]any) error {
	return s.api(ctx, "PUT", "/api/contents/"+path, map[string]any{"type": "notebook", "format": "json", "content": nb}, nil)
}

// execute runs code in a new python3 kernel over the Jupyter messaging
// protocol and returns the execution count and the text it printed.
func (s *student) execute(ctx context.Context, code string) (int, string, error) {
	var k struct {
		ID string `json:"id"`
	}
	if err := s.api(ctx, "POST", "/api/kernels", map[string]string{"name": "python3"}, &k); err != nil {
		return 0, "", err
	}
	defer s.api(context.Background(), "DELETE", "/api/kernels/"+k.ID, nil, nil)
	u, _ := url.Parse(s.userBase + "/api/kernels/" + k.ID + "/channels")
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	hdr := http.Header{}
	var cookies []string
	for _, c := range s.jar.Cookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/user/" + s.name + "/"}) {
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
		"header": map[string]any{"msg_id": msgID, "username": s.name, "session": rand.Text(), "msg_type": "execute_request",
			"version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "channel": "shell",
		"content": map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
			"allow_stdin": false, "stop_on_error": true},
	}
	b, _ := json.Marshal(msg)
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		return 0, "", err
	}
	var printed strings.Builder
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return 0, printed.String(), err
		}
		var m struct {
			Channel      string `json:"channel"`
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
		case "execute_reply":
			if m.Content["status"] != "ok" {
				return 0, printed.String(), fmt.Errorf("execution failed: %v", m.Content)
			}
			n, _ := m.Content["execution_count"].(float64)
			return int(n), printed.String(), nil
		}
	}
}
