package jupyterhub

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestHubLogLinesLevelsAndRedaction(t *testing.T) {
	var buf syncBuffer
	h := newHubLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "SERVICE-TOKEN-42")
	long := strings.Repeat("x", 3*maxLogLine)
	input := strings.Join([]string{
		"[I 2024-01-01 00:00:00.000 JupyterHub app:1] Running JupyterHub version 3.0.0",
		"[W 2024-01-01 00:00:00.000 JupyterHub proxy:750] Running JupyterHub without SSL.",
		"[E 2024-01-01 00:00:00.000 JupyterHub users:272] Failed to create user: x",
		"[C 2024-01-01 00:00:00.000 JupyterHub app:3251] Received signal SIGTERM, initiating shutdown...",
		"[C 2024-01-01 00:00:00.000 JupyterHub app:1] something critical",
		"20:33:27.601 [ConfigProxy] \x1b[31merror\x1b[39m: 503 GET /user/x/ connect ECONNREFUSED",
		"[I 12:00:00.000 SingleUserNotebookApp] 302 GET /user/s1/?token=abcdef0123 -> /user/s1/tree",
		"leaked SERVICE-TOKEN-42 here",
		"",
		long,
		"after the long line\r",
	}, "\n")
	h.copy(strings.NewReader(input)) // no trailing newline: the last line still counts

	type rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Src   string `json:"src"`
	}
	var recs []rec
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r rec
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		recs = append(recs, r)
	}
	wantLevels := []string{"DEBUG", "WARN", "ERROR", "INFO", "ERROR", "ERROR", "DEBUG", "DEBUG", "DEBUG", "DEBUG"}
	if len(recs) != len(wantLevels) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(wantLevels), buf.String())
	}
	for i, r := range recs {
		if r.Level != wantLevels[i] || r.Src != "jupyterhub" {
			t.Errorf("record %d %q: level %s, want %s", i, r.Msg, r.Level, wantLevels[i])
		}
		if strings.Contains(r.Msg, "\x1b") {
			t.Errorf("record %d keeps terminal escapes: %q", i, r.Msg)
		}
	}
	all := buf.String()
	if strings.Contains(all, "SERVICE-TOKEN-42") || strings.Contains(all, "abcdef0123") {
		t.Errorf("secret in the log:\n%s", all)
	}
	if !strings.Contains(recs[6].Msg, "token=[REDACTED]") || recs[7].Msg != "leaked [REDACTED] here" {
		t.Errorf("redaction: %q, %q", recs[6].Msg, recs[7].Msg)
	}
	if len(recs[8].Msg) != maxLogLine {
		t.Errorf("long line: %d bytes, want it cut to %d", len(recs[8].Msg), maxLogLine)
	}
	if recs[9].Msg != "after the long line" {
		t.Errorf("line after the long one: %q", recs[9].Msg)
	}
	if tail := h.lastLines(2); len(tail) != 2 || tail[1] != "after the long line" {
		t.Errorf("lastLines = %q", tail)
	}
}
