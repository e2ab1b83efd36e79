package jupyterhub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// How much of a cell a rehearsal keeps.
const (
	sourceLines    = 3
	outputLines    = 10
	tracebackLines = 8
	excerptBytes   = 2000
)

// runCell runs one code cell. ex is nil when the cell could not be sent;
// the error is for what stops the rehearsal (ctx ended), the cell's own
// failures are in the CellRun.
func (r *Rehearser) runCell(ctx context.Context, k *kernelSession, code string, opt wod.RehearsalOptions) (wod.CellRun, *execution, error) {
	run := wod.CellRun{Source: sourceExcerpt(code)}
	start := time.Now()
	finish := func(ex *execution, err error) (wod.CellRun, *execution, error) {
		run.Duration = time.Since(start)
		if ex != nil {
			run.Output = outputExcerpt(ex.outputs)
			run.Inputs = ex.inputs
		}
		return run, ex, err
	}

	msgID, err := k.conn.execute(ctx, code, true, false)
	if err != nil {
		if ctx.Err() != nil {
			return finish(nil, ctx.Err())
		}
		// The websocket broke: report the cell, reconnect for the next.
		run.Status, run.EValue = wod.CellError, err.Error()
		if err := k.redial(ctx); err != nil {
			return finish(nil, r.restartOrStop(ctx, k, &run))
		}
		return finish(nil, nil)
	}
	ex := &execution{}
	timer := time.NewTimer(opt.CellTimeout)
	defer timer.Stop()
	err = k.conn.await(ctx, msgID, ex, &opt.Input, timer.C)
	switch {
	case err == nil:
		switch {
		case ex.status == "ok" && ex.inputs > 0:
			run.Status = wod.CellAnswered
		case ex.status == "ok":
			run.Status = wod.CellOK
		default:
			run.Status = wod.CellError
			run.EName, run.EValue, run.Traceback = ex.ename, ex.evalue, tracebackExcerpt(ex.traceback)
			if run.EName == "" && run.EValue == "" {
				run.EValue = "the kernel replied " + ex.status
			}
		}
		return finish(ex, nil)
	case ctx.Err() != nil:
		return finish(ex, ctx.Err())
	case errors.Is(err, errWaitOver):
		run.Status = wod.CellTimeout
		run.EValue = fmt.Sprintf("no reply within %s: interrupted", opt.CellTimeout)
		if err := k.p.interruptKernel(ctx, k.id); err != nil {
			r.logger().Warn("interrupting a kernel", "user", k.p.Name, "kernel", k.id, "err", err)
		}
		grace := time.NewTimer(orDefault(r.InterruptGrace, defaultInterruptGrace))
		defer grace.Stop()
		// The interrupted cell's reply and outputs (KeyboardInterrupt) go
		// into the notebook as the page would show them.
		if err := k.conn.await(ctx, msgID, ex, &opt.Input, grace.C); err != nil {
			if ctx.Err() != nil {
				return finish(ex, ctx.Err())
			}
			run.EValue += "; the kernel did not come back and was restarted"
			return finish(ex, r.restartOrStop(ctx, k, &run))
		}
		return finish(ex, nil)
	case errors.Is(err, errKernelDied):
		run.Status, run.EValue = wod.CellError, "the kernel died"
		// The server restarts a dead kernel itself; a new websocket sees
		// the new one.
		if err := k.redial(ctx); err != nil {
			return finish(ex, r.restartOrStop(ctx, k, &run))
		}
		return finish(ex, nil)
	default: // the websocket broke
		run.Status, run.EValue = wod.CellError, err.Error()
		return finish(ex, r.restartOrStop(ctx, k, &run))
	}
}

// restartOrStop restarts the kernel after a cell left it unusable. A kernel
// that cannot be restarted stops the notebook's remaining cells from
// running: that is reported on the cell, and only ctx ending stops the
// rehearsal.
func (r *Rehearser) restartOrStop(ctx context.Context, k *kernelSession, run *wod.CellRun) error {
	err := r.restart(ctx, k)
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	run.EValue += "; " + err.Error()
	return errKernelLost{err}
}

// errKernelLost ends a notebook whose kernel cannot be restarted.
type errKernelLost struct{ err error }

func (e errKernelLost) Error() string { return e.err.Error() }
func (e errKernelLost) Unwrap() error { return e.err }

// writeCell puts what ran into the notebook's cell, as the page does.
func writeCell(cell map[string]any, ex *execution) {
	outputs := ex.outputs
	if outputs == nil {
		outputs = []map[string]any{}
	}
	cell["outputs"] = outputs
	if ex.count > 0 {
		cell["execution_count"] = ex.count
	} else {
		cell["execution_count"] = nil
	}
}

// cellRehearsed reports whether the cell is to run (wod.SkipsRehearsal).
func cellRehearsed(cell map[string]any) bool {
	meta, _ := cell["metadata"].(map[string]any)
	return !wod.SkipsRehearsal(meta)
}

// cellSource is a cell's code: nbformat allows a string or a list of lines.
func cellSource(cell map[string]any) string {
	switch s := cell["source"].(type) {
	case string:
		return s
	case []any:
		var b strings.Builder
		for _, l := range s {
			if l, ok := l.(string); ok {
				b.WriteString(l)
			}
		}
		return b.String()
	}
	return ""
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)`)

// stripANSI removes terminal colours and control sequences (IPython
// colours its tracebacks).
func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }

func sourceExcerpt(code string) string {
	return firstLines(strings.TrimSpace(code), sourceLines)
}

// outputExcerpt is the first lines of what the cell printed and returned:
// streams, and the text/plain of results and displays.
func outputExcerpt(outputs []map[string]any) string {
	var b strings.Builder
	for _, o := range outputs {
		switch o["output_type"] {
		case "stream":
			s, _ := o["text"].(string)
			b.WriteString(s)
		case "execute_result", "display_data":
			data, _ := o["data"].(map[string]any)
			text := cellSource(map[string]any{"source": data["text/plain"]})
			if text != "" {
				b.WriteString(text)
				if !strings.HasSuffix(text, "\n") {
					b.WriteByte('\n')
				}
			}
		}
		if b.Len() > excerptBytes*2 {
			break
		}
	}
	return firstLines(strings.TrimRight(stripANSI(b.String()), "\n"), outputLines)
}

// tracebackExcerpt is the last lines of a traceback, where the error is.
func tracebackExcerpt(tb []string) string {
	var lines []string
	for _, l := range strings.Split(stripANSI(strings.Join(tb, "\n")), "\n") {
		if t := strings.TrimSpace(l); t != "" && strings.Trim(t, "-") != "" {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	if len(lines) > tracebackLines {
		lines = lines[len(lines)-tracebackLines:]
	}
	return truncate(strings.Join(lines, "\n"))
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return truncate(strings.Join(lines, "\n"))
}

func truncate(s string) string {
	if len(s) <= excerptBytes {
		return s
	}
	cut := excerptBytes
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
