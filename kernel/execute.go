package kernel

import (
	"context"
	"fmt"
	"time"
)

type executeRequest struct {
	Code         string `json:"code"`
	Silent       bool   `json:"silent"`
	StoreHistory *bool  `json:"store_history"`
	AllowStdin   *bool  `json:"allow_stdin"`
	StopOnError  *bool  `json:"stop_on_error"`
}

func orTrue(b *bool) bool { return b == nil || *b }

// execute runs a cell: execute_input, its output as it comes, the reply.
// It reports whether the cell failed and the request asked to stop there.
func (k *kernel) execute(ctx context.Context, s *socket, m Message) (stop bool) {
	var req executeRequest
	if err := m.Decode(&req); err != nil {
		k.log.Warn("execute_request", "err", err)
		k.send(s, m, "execute_reply", map[string]any{"status": "error", "ename": "BadRequest", "evalue": err.Error(), "traceback": []string{err.Error()}})
		return false
	}
	storeHistory := !req.Silent && orTrue(req.StoreHistory)

	k.interp.Lock()
	defer k.interp.Unlock()
	if storeHistory {
		k.count++
	}
	count := k.count
	if !req.Silent {
		k.publish(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}

	cellCtx, cancel := context.WithCancel(ctx)
	k.mu.Lock()
	k.cancelCell = cancel
	k.mu.Unlock()
	out := &cellOutput{k: k, req: m, silent: req.Silent, allowStdin: orTrue(req.AllowStdin), count: count}
	err := k.in.Execute(cellCtx, req.Code, out)
	k.mu.Lock()
	k.cancelCell = nil
	k.inputID = ""
	k.mu.Unlock()
	cancel()

	if err == nil {
		k.send(s, m, "execute_reply", map[string]any{
			"status":           "ok",
			"execution_count":  count,
			"payload":          []any{},
			"user_expressions": map[string]any{},
		})
		return false
	}
	e := asError(err)
	// Requests that arrive from now on were sent knowing of the failure:
	// they run (the time is taken before the client can know).
	k.failedAt = time.Now()
	if !req.Silent {
		k.publish(m, "error", map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback})
	}
	k.send(s, m, "execute_reply", map[string]any{
		"status":          "error",
		"execution_count": count,
		"ename":           e.Name,
		"evalue":          e.Value,
		"traceback":       e.Traceback,
	})
	return orTrue(req.StopOnError)
}

// cellOutput is the Output of one execute_request.
type cellOutput struct {
	k          *kernel
	req        Message
	silent     bool
	allowStdin bool
	count      int
}

func (o *cellOutput) Stream(name, text string) {
	if o.silent || text == "" {
		return
	}
	o.k.publish(o.req, "stream", map[string]any{"name": name, "text": text})
}

func (o *cellOutput) Display(data map[string]any, displayID string, update bool) {
	if o.silent {
		return
	}
	content := map[string]any{"data": data, "metadata": map[string]any{}}
	msgType := "display_data"
	if displayID != "" {
		content["transient"] = map[string]any{"display_id": displayID}
		o.k.mu.Lock()
		shown := o.k.displays[displayID]
		o.k.displays[displayID] = true
		o.k.mu.Unlock()
		if update && shown {
			msgType = "update_display_data"
		}
	}
	o.k.publish(o.req, msgType, content)
}

func (o *cellOutput) Result(data map[string]any) {
	if o.silent {
		return
	}
	o.k.publish(o.req, "execute_result", map[string]any{"execution_count": o.count, "data": data, "metadata": map[string]any{}})
}

// Input sends an input_request on stdin, routed to the client that sent
// the cell, and waits for its input_reply.
func (o *cellOutput) Input(ctx context.Context, prompt string, password bool) (string, error) {
	if !o.allowStdin {
		return "", ErrNoStdin
	}
	k := o.k
	m, err := NewMessage(k.session, "input_request", o.req, map[string]any{"prompt": prompt, "password": password})
	if err != nil {
		return "", err
	}
	m.Identities = o.req.Identities
	k.mu.Lock()
	k.inputID = m.Header.MsgID
	k.mu.Unlock()
	select {
	case <-k.replies: // a stale reply
	default:
	}
	if err := k.stdin.send(k.sg, m); err != nil {
		return "", err
	}
	select {
	case r := <-k.replies:
		var reply struct {
			Value string `json:"value"`
		}
		if err := r.Decode(&reply); err != nil {
			return "", fmt.Errorf("input_reply: %w", err)
		}
		return reply.Value, nil
	case <-ctx.Done():
		k.mu.Lock()
		k.inputID = ""
		k.mu.Unlock()
		return "", ctx.Err()
	}
}
