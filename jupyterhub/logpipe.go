package jupyterhub

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

const (
	maxLogLine = 8 << 10 // longer lines are cut (tracebacks come line by line)
	tailLines  = 30      // output kept to explain a failed start
)

// hubLog copies the output of the hub (and of what it starts: the proxy and
// the single-user servers inherit its stdout/stderr) into a slog.Logger, one
// record per line, and keeps the last lines to quote in errors.
type hubLog struct {
	log    *slog.Logger
	redact *regexp.Regexp // matches secrets to mask
	ansi   *regexp.Regexp // matches terminal colour sequences

	mu   sync.Mutex
	tail []string
}

func newHubLog(log *slog.Logger, secrets ...string) *hubLog {
	// `token=…` in URLs (single-user servers log request URLs, a ?token=
	// link would show up) and any secret we know of.
	alts := []string{`(?i)token=[^&\s'"]+`}
	for _, s := range secrets {
		if s != "" {
			alts = append(alts, regexp.QuoteMeta(s))
		}
	}
	return &hubLog{
		log:    log,
		redact: regexp.MustCompile(strings.Join(alts, "|")),
		ansi:   regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`),
	}
}

// copy reads r until EOF, which comes only when every process holding the
// write end has exited, so it must run in its own goroutine. It never stops
// reading early: a hub blocked on a full pipe would hang.
func (h *hubLog) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxLogLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			h.emit(string(line))
			line = line[:0]
		}
		if err != nil {
			return
		}
	}
}

func (h *hubLog) emit(line string) {
	// CHP colours its level names; escape sequences have no place in a log.
	line = h.ansi.ReplaceAllString(strings.TrimRight(line, "\r\n"), "")
	if strings.TrimSpace(line) == "" {
		return
	}
	line = h.redact.ReplaceAllStringFunc(line, func(m string) string {
		if k, _, ok := strings.Cut(m, "="); ok && strings.EqualFold(k, "token") {
			return k + "=[REDACTED]"
		}
		return "[REDACTED]"
	})
	h.mu.Lock()
	h.tail = append(h.tail, line)
	if len(h.tail) > tailLines {
		h.tail = h.tail[len(h.tail)-tailLines:]
	}
	h.mu.Unlock()
	h.log.Log(context.Background(), lineLevel(line), line, "src", "jupyterhub")
}

// lastLines returns the most recent output, oldest first.
func (h *hubLog) lastLines(n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > len(h.tail) {
		n = len(h.tail)
	}
	return append([]string(nil), h.tail[len(h.tail)-n:]...)
}

// lineLevel maps the hub's log prefixes ("[I 2024-… app:…]", the notebook's
// "[W 12:00:00.000 NotebookApp]", CHP's "… [ConfigProxy] error: …") to slog
// levels. The hub's INFO is chatty (every API request), so it goes to Debug;
// warnings and errors keep their level so that an operator sees them.
func lineLevel(line string) slog.Level {
	if len(line) >= 3 && line[0] == '[' && line[2] == ' ' {
		switch line[1] {
		case 'W':
			return slog.LevelWarn
		case 'C':
			// The hub logs its own orderly shutdown as CRITICAL.
			if strings.Contains(line, "Received signal SIGTERM") {
				return slog.LevelInfo
			}
			return slog.LevelError
		case 'E':
			return slog.LevelError
		}
		return slog.LevelDebug
	}
	if strings.Contains(line, "[ConfigProxy] error:") {
		return slog.LevelError
	}
	if strings.Contains(line, "[ConfigProxy] warn:") {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
