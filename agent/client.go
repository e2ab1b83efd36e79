package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// Client reaches the server over HTTP with the location's agent token.
// The agent dials out, so a location behind NAT needs no inbound port.
type Client struct {
	// BaseURL is the server, e.g. https://wod.example.com.
	BaseURL string
	Token   string
	HTTP    *http.Client
}

func (c *Client) do(ctx context.Context, path string, in, out any) (int, error) {
	method := http.MethodPost
	var b []byte
	if in == nil {
		method = http.MethodGet
	} else if enc, err := json.Marshal(in); err != nil {
		return 0, err
	} else {
		b = enc
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/agent/") {
		// Only the agent protocol takes the agent token: the public routes
		// refuse credentials that are not an operator's.
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return res.StatusCode, &wod.Error{Code: e.Code, Message: e.Message}
		}
		return res.StatusCode, fmt.Errorf("server answered %s", res.Status)
	}
	if out != nil && res.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(body, out); err != nil {
			return res.StatusCode, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return res.StatusCode, nil
}

// Claim implements Server: a long-poll for the next job.
func (c *Client) Claim(ctx context.Context, wait time.Duration) (*wod.AgentJob, error) {
	var job wod.AgentJob
	status, err := c.do(ctx, "/agent/claim", map[string]any{"wait_seconds": int(wait / time.Second)}, &job)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if status == http.StatusNoContent {
		return nil, nil
	}
	return &job, nil
}

// Report implements Server.
func (c *Client) Report(ctx context.Context, jobID int64, res wod.AgentResult) error {
	if _, err := c.do(ctx, fmt.Sprintf("/agent/jobs/%d/report", jobID), res, nil); err != nil {
		return fmt.Errorf("report job %d: %w", jobID, err)
	}
	return nil
}

// Heartbeat implements Server.
func (c *Client) Heartbeat(ctx context.Context, hb wod.AgentHeartbeat) error {
	if _, err := c.do(ctx, "/agent/heartbeat", hb, nil); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// HeldSeats implements GuardServer.
func (c *Client) HeldSeats(ctx context.Context) ([]int, error) {
	var out struct {
		Held []int `json:"held"`
	}
	if _, err := c.do(ctx, "/agent/seats", nil, &out); err != nil {
		return nil, fmt.Errorf("held seats: %w", err)
	}
	return out.Held, nil
}

// WarmSeats implements WarmSource.
func (c *Client) WarmSeats(ctx context.Context) ([]int, error) {
	var out struct {
		Warm []int `json:"warm"`
	}
	if _, err := c.do(ctx, "/agent/seats", nil, &out); err != nil {
		return nil, fmt.Errorf("warm seats: %w", err)
	}
	return out.Warm, nil
}

// Announcements implements BannerSource: the banners showing now (a
// public route).
func (c *Client) Announcements(ctx context.Context) ([]*wod.Announcement, error) {
	var out []*wod.Announcement
	if _, err := c.do(ctx, "/announcements", nil, &out); err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	return out, nil
}

// Event implements GuardServer.
func (c *Client) Event(ctx context.Context, kind, detail string) error {
	if _, err := c.do(ctx, "/agent/events", map[string]string{"kind": kind, "detail": detail}, nil); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// ReportChecks implements CheckReporter.
func (c *Client) ReportChecks(ctx context.Context, results []wod.CheckResult) error {
	if _, err := c.do(ctx, "/agent/checks", map[string]any{"checks": results}, nil); err != nil {
		return fmt.Errorf("report checks: %w", err)
	}
	return nil
}
