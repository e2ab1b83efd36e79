package kernel

import (
	"context"
)

// handle answers one shell or control request between status busy and
// idle, as every request gets. It reports whether the request was a cell
// that failed and asked to stop on error.
func (k *kernel) handle(ctx context.Context, s *socket, m Message) (stop bool) {
	k.publish(m, "status", map[string]any{"execution_state": "busy"})
	defer k.publish(m, "status", map[string]any{"execution_state": "idle"})
	switch t := m.Header.MsgType; t {
	case "kernel_info_request":
		k.send(s, m, "kernel_info_reply", map[string]any{
			"status":                 "ok",
			"protocol_version":       ProtocolVersion,
			"implementation":         k.info.Implementation,
			"implementation_version": k.info.ImplementationVersion,
			"language_info":          k.info.Language,
			"banner":                 k.info.Banner,
			"help_links":             []any{},
		})
	case "execute_request":
		return k.execute(ctx, s, m)
	case "complete_request":
		k.complete(ctx, s, m)
	case "is_complete_request":
		k.isComplete(s, m)
	case "inspect_request":
		k.send(s, m, "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
	case "history_request":
		k.send(s, m, "history_reply", map[string]any{"status": "ok", "history": []any{}})
	case "comm_info_request":
		k.send(s, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	case "comm_open", "comm_msg", "comm_close":
		// No comm targets: nothing to answer.
	case "interrupt_request":
		k.interrupt()
		k.send(s, m, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		k.shutdownRequest(ctx, s, m)
	default:
		k.log.Warn("unknown message type", "socket", s.name, "msg_type", t)
	}
	return false
}

func (k *kernel) complete(ctx context.Context, s *socket, m Message) {
	var req struct {
		Code      string `json:"code"`
		CursorPos int    `json:"cursor_pos"`
	}
	if err := m.Decode(&req); err != nil {
		k.log.Warn("complete_request", "err", err)
		return
	}
	k.interp.Lock()
	c := k.in.Complete(ctx, req.Code, req.CursorPos)
	k.interp.Unlock()
	if c.Matches == nil {
		c.Matches = []string{}
		c.CursorStart, c.CursorEnd = req.CursorPos, req.CursorPos
	}
	k.send(s, m, "complete_reply", map[string]any{
		"status":       "ok",
		"matches":      c.Matches,
		"cursor_start": c.CursorStart,
		"cursor_end":   c.CursorEnd,
		"metadata":     map[string]any{},
	})
}

func (k *kernel) isComplete(s *socket, m Message) {
	var req struct {
		Code string `json:"code"`
	}
	if err := m.Decode(&req); err != nil {
		k.log.Warn("is_complete_request", "err", err)
		return
	}
	k.interp.Lock()
	status, indent := k.in.IsComplete(req.Code)
	k.interp.Unlock()
	reply := map[string]any{"status": status}
	if status == "incomplete" {
		reply["indent"] = indent
	}
	k.send(s, m, "is_complete_reply", reply)
}

// shutdownRequest ends Serve, or restarts the interpreter when asked to.
// The reply goes on iopub too, so that every client learns of it.
func (k *kernel) shutdownRequest(ctx context.Context, s *socket, m Message) {
	var req struct {
		Restart bool `json:"restart"`
	}
	if err := m.Decode(&req); err != nil {
		k.log.Warn("shutdown_request", "err", err)
	}
	reply := map[string]any{"status": "ok", "restart": req.Restart}
	if !req.Restart {
		k.log.Info("shutdown requested")
		k.send(s, m, "shutdown_reply", reply)
		k.publish(m, "shutdown_reply", reply)
		k.interrupt()
		k.shutdown()
		return
	}
	k.log.Info("restart requested")
	k.interrupt()
	k.interp.Lock()
	err := k.in.Restart(ctx)
	k.count = 0
	k.interp.Unlock()
	if err != nil {
		k.log.Error("restart", "err", err)
		reply = map[string]any{"status": "error", "restart": true, "ename": "RestartError", "evalue": err.Error(), "traceback": []string{err.Error()}}
	}
	k.send(s, m, "shutdown_reply", reply)
	k.publish(m, "shutdown_reply", reply)
}
