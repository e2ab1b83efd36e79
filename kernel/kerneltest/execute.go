package kerneltest

import (
	"context"
	"fmt"
	"strings"

	"github.com/wod-dev/wod/kernel"
)

// Options of an execute_request; the zero value is a plain cell that
// allows stdin and answers input requests with "".
type Options struct {
	Silent      bool
	NoHistory   bool
	NoStdin     bool
	NoStopOnErr bool
	// Input answers an input_request (nil: "").
	Input func(prompt string, password bool) string
}

// Result is what a cell produced: its reply, and its iopub messages in
// order until the kernel went idle.
type Result struct {
	Reply   kernel.Message
	Status  string // ok, error, aborted
	Count   int
	Error   *kernel.Error
	Outputs []kernel.Message // every iopub message but status
	Stdout  string
	Stderr  string
	Prompts []string // the input requests answered
}

// Execute runs code and collects its output until the kernel is idle.
func (c *Client) Execute(ctx context.Context, code string, o Options) (*Result, error) {
	req, err := c.SendExecute(code, o)
	if err != nil {
		return nil, err
	}
	return c.Collect(ctx, req, o)
}

// SendExecute sends an execute_request without waiting.
func (c *Client) SendExecute(code string, o Options) (kernel.Message, error) {
	return c.Send("shell", "execute_request", map[string]any{
		"code":             code,
		"silent":           o.Silent,
		"store_history":    !o.NoHistory,
		"user_expressions": map[string]any{},
		"allow_stdin":      !o.NoStdin,
		"stop_on_error":    !o.NoStopOnErr,
	})
}

// Collect gathers the reply and iopub messages of req until status idle,
// answering input requests on the way.
func (c *Client) Collect(ctx context.Context, req kernel.Message, o Options) (*Result, error) {
	res := &Result{}
	var replied, idle bool
	var stdout, stderr strings.Builder
	for !replied || !idle {
		r, err := c.box.take(ctx, func(ch string, m kernel.Message) bool {
			return m.ParentHeader.MsgID == req.Header.MsgID
		})
		if err != nil {
			return res, fmt.Errorf("collecting the output of %q: %w (so far: %q %q)", req.Header.MsgID, err, stdout.String(), stderr.String())
		}
		m := r.msg
		switch r.channel {
		case "shell":
			replied = true
			res.Reply = m
			var rc struct {
				Status    string   `json:"status"`
				Count     int      `json:"execution_count"`
				Ename     string   `json:"ename"`
				Evalue    string   `json:"evalue"`
				Traceback []string `json:"traceback"`
			}
			if err := m.Decode(&rc); err != nil {
				return res, err
			}
			res.Status, res.Count = rc.Status, rc.Count
			if rc.Status == "error" {
				res.Error = &kernel.Error{Name: rc.Ename, Value: rc.Evalue, Traceback: rc.Traceback}
			}
		case "stdin":
			var ir struct {
				Prompt   string `json:"prompt"`
				Password bool   `json:"password"`
			}
			if err := m.Decode(&ir); err != nil {
				return res, err
			}
			res.Prompts = append(res.Prompts, ir.Prompt)
			answer := ""
			if o.Input != nil {
				answer = o.Input(ir.Prompt, ir.Password)
			}
			if _, err := c.SendParent("stdin", "input_reply", m, map[string]any{"value": answer}); err != nil {
				return res, err
			}
		case "iopub":
			if m.Header.MsgType == "status" {
				var st struct {
					State string `json:"execution_state"`
				}
				m.Decode(&st)
				if st.State == "idle" {
					idle = true
				}
				continue
			}
			res.Outputs = append(res.Outputs, m)
			if m.Header.MsgType == "stream" {
				var s struct {
					Name string `json:"name"`
					Text string `json:"text"`
				}
				m.Decode(&s)
				if s.Name == "stderr" {
					stderr.WriteString(s.Text)
				} else {
					stdout.WriteString(s.Text)
				}
			}
		}
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	return res, nil
}
