package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wod-dev/wod"
)

// Client asks a running server for rehearsals over its API, with an
// operator's token (wod workshop rehearse).
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// Start asks for a rehearsal of the workshop.
func (c *Client) Start(ctx context.Context, slug string) (*wod.Rehearsal, error) {
	var h wod.Rehearsal
	return &h, c.do(ctx, http.MethodPost, "/api/v1/workshops/"+url.PathEscape(slug)+"/rehearsals", &h)
}

// Get reads a rehearsal.
func (c *Client) Get(ctx context.Context, slug string, id int64) (*wod.Rehearsal, error) {
	var h wod.Rehearsal
	return &h, c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/workshops/%s/rehearsals/%d", url.PathEscape(slug), id), &h)
}

// Follow polls the rehearsal every poll until it ends, calling progress
// (when set) each time it changed.
func (c *Client) Follow(ctx context.Context, h *wod.Rehearsal, poll time.Duration, progress func(*wod.Rehearsal)) (*wod.Rehearsal, error) {
	last := ""
	for {
		cur, err := c.Get(ctx, h.Workshop, h.ID)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			if b, _ := json.Marshal(cur.Notebooks); string(b) != last {
				last = string(b)
				progress(cur)
			}
		}
		if cur.State.Final() {
			return cur, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var p struct {
			Detail string `json:"detail"`
			Title  string `json:"title"`
		}
		json.Unmarshal(b, &p)
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		if msg == "" {
			msg = strings.TrimSpace(string(bytes.ToValidUTF8(b, nil)))
		}
		return fmt.Errorf("%s %s: %d: %s", method, path, res.StatusCode, msg)
	}
	return json.Unmarshal(b, out)
}

// WriteReport prints a rehearsal as a table, one row per cell: notebook,
// cell, status, duration, and the error or the first line of the output.
func WriteReport(w io.Writer, h *wod.Rehearsal) error {
	fmt.Fprintf(w, "%s: rehearsal %d %s", h.Workshop, h.ID, h.State)
	if h.Completion != nil {
		fmt.Fprintf(w, ", completion %d %%", *h.Completion)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTEBOOK\tCELL\tSTATUS\tDURATION\tERROR / OUTPUT")
	for _, nb := range h.Notebooks {
		switch {
		case nb.Error != "":
			fmt.Fprintf(tw, "%s\t-\tfailed\t-\t%s\n", nb.Path, firstLine(nb.Error))
		case nb.Skipped:
			fmt.Fprintf(tw, "%s\t-\tskipped\t-\t%s\n", nb.Path, "the notebook's metadata asks not to rehearse it")
		}
		for _, c := range nb.Cells {
			detail := firstLine(c.Output)
			if c.EName != "" || c.EValue != "" {
				detail = firstLine(c.EName + ": " + c.EValue)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", nb.Path, c.Index, c.Status, c.Duration.Round(time.Millisecond), detail)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if h.Error != "" {
		fmt.Fprintf(w, "error: %s\n", h.Error)
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
