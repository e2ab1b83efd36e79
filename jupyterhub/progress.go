package jupyterhub

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// progressIdle is how long the event stream may stay silent before we give up
// on it. The hub writes a keep-alive every 8 s, so silence means a dead
// connection (a hub that was killed mid-spawn, a proxy holding the socket).
const progressIdle = 30 * time.Second

// progressEvent is one event of GET /users/{name}/server/progress.
type progressEvent struct {
	Progress int    `json:"progress"`
	Message  string `json:"message"`
	Ready    bool   `json:"ready"`
	Failed   bool   `json:"failed"`
	URL      string `json:"url"`
}

// progress follows the spawn-progress event stream of name's default server
// until its final event (ready or failed) and returns that event. An error
// means the stream could not tell (refused, broken, silent, or ended without
// a final event); the caller then polls instead.
func (c *Client) progress(ctx context.Context, name string) (*progressEvent, error) {
	path, err := userPath(name, "/server/progress")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	// The watchdog cancels the request when the stream goes silent; every
	// line read pushes it back.
	watchdog := time.AfterFunc(progressIdle, cancel)
	defer watchdog.Stop()
	res, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: GET %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return nil, c.apiError(http.MethodGet, path, &response{status: res.StatusCode, header: res.Header, body: b})
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		watchdog.Reset(progressIdle)
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue // keep-alive blank lines, comments, other fields
		}
		var ev progressEvent
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &ev); err != nil {
			continue
		}
		if ev.Ready || ev.Failed {
			return &ev, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("jupyterhub: GET %s: %w", path, err)
	}
	return nil, errors.New("jupyterhub: spawn progress stream ended without a final event")
}
