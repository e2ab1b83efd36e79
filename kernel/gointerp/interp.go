package gointerp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cosmos72/gomacro/fast"
	"github.com/wod-dev/wod/kernel"
)

// interruptGrace is how long an interrupted cell may take to stop before
// its interpreter is given up for a fresh one. gomacro checks for an
// interrupt between interpreted statements, so a loop stops at once, but a
// call into compiled code (time.Sleep, a blocking read) finishes first.
const interruptGrace = 2 * time.Second

// Interpreter is the Go kernel's language: a gomacro interpreter.
type Interpreter struct {
	log          *slog.Logger
	childGODEBUG string

	mu sync.Mutex // guards w against Close racing a running cell
	w  *worker
}

var _ kernel.Interpreter = (*Interpreter)(nil)

// New starts an interpreter. It sets GODEBUG=gotypesalias=0 in the process
// environment first, which gomacro needs (see godebug.go).
func New(logger *slog.Logger) (*Interpreter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Interpreter{log: logger, childGODEBUG: disableTypeAliases()}
	w, err := startWorker()
	if err != nil {
		return nil, fmt.Errorf("starting the Go interpreter: %w", err)
	}
	in.w = w
	// Building gomacro's tables of the standard library leaves about as
	// much garbage as it keeps (RSS 128 MB before, 62 MB after): a kernel
	// then idles for hours, once per participant, so hand it back now.
	debug.FreeOSMemory()
	return in, nil
}

// Info is what gophernotes answers, with this interpreter's version.
func (in *Interpreter) Info() kernel.Info {
	return kernel.Info{
		Implementation:        "gophernotes",
		ImplementationVersion: gomacroVersion,
		Banner:                "Go kernel: gomacro " + gomacroVersion + " on " + runtime.Version() + " (wod)",
		Language: kernel.LanguageInfo{
			Name:           "go",
			Version:        runtime.Version(),
			MIMEType:       "text/x-go",
			FileExtension:  ".go",
			CodeMirrorMode: "go",
			PygmentsLexer:  "go",
		},
	}
}

// gomacroVersion is the gomacro that go.mod pins (gophernotes' own).
const gomacroVersion = "v0.0.0-20231101204900-3dc08f5f8fea"

func (in *Interpreter) worker() (*worker, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.w == nil {
		return nil, errors.New("the Go interpreter is closed")
	}
	return in.w, nil
}

// Execute runs a cell: its special lines, then its Go.
func (in *Interpreter) Execute(ctx context.Context, code string, out kernel.Output) (err error) {
	w, err := in.worker()
	if err != nil {
		return err
	}
	magics, code := splitMagics(code)
	capture, err := startCapture(out)
	if err != nil {
		return err
	}
	defer capture.restore()
	for _, m := range magics {
		if err := in.runMagic(ctx, w, m); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return kernel.ErrInterrupted
	}
	var (
		result    string
		hasResult bool
		evalErr   error
		ran       bool
	)
	done := w.do(func(ir *fast.Interp) {
		ran = true
		result, hasResult, evalErr = eval(ir, code)
	})
	select {
	case <-done:
	case <-ctx.Done():
		interrupt(w)
		select {
		case <-done:
		case <-time.After(interruptGrace):
			return in.abandon(w, out)
		}
	}
	if !ran {
		return errors.New("the Go interpreter is closed")
	}
	if errors.Is(evalErr, errInterrupted) || (evalErr != nil && ctx.Err() != nil) {
		return kernel.ErrInterrupted
	}
	if evalErr != nil {
		return evalErr
	}
	if hasResult {
		out.Result(map[string]any{"text/plain": result})
	}
	return nil
}

// abandon gives up an interpreter whose cell would not stop and puts a
// fresh one in its place: the kernel stays usable, but the cell's
// goroutine runs on until its compiled call returns (then it stops at the
// interrupt), and the declarations made so far are gone, which the cell's
// stderr says.
func (in *Interpreter) abandon(old *worker, out kernel.Output) error {
	w, err := startWorker()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.w != old {
		// Closed or restarted meanwhile, which stopped old.
		if w != nil {
			w.stop()
		}
		return kernel.ErrInterrupted
	}
	old.stop()
	if err != nil {
		in.w = nil
		return fmt.Errorf("replacing the interrupted Go interpreter: %w", err)
	}
	in.w = w
	in.log.Warn("gointerp: interrupted cell did not stop; interpreter replaced")
	out.Stream("stderr", "The cell did not stop when interrupted (it is in a call such as time.Sleep): "+
		"the Go interpreter was restarted, and earlier declarations are gone.\n")
	return kernel.ErrInterrupted
}

// Complete proposes gomacro's completions of the identifier, package or
// field path before the cursor.
func (in *Interpreter) Complete(ctx context.Context, code string, cursor int) kernel.Completion {
	none := kernel.Completion{CursorStart: cursor, CursorEnd: cursor}
	w, err := in.worker()
	if err != nil {
		return none
	}
	pos := byteOffset(code, cursor)
	var (
		head    string
		matches []string
	)
	select {
	case <-w.do(func(ir *fast.Interp) { head, matches, _ = ir.CompleteWords(code[:pos], pos) }):
	case <-ctx.Done():
		return none
	}
	if len(matches) == 0 {
		return none
	}
	return kernel.Completion{Matches: matches, CursorStart: runeCount(head), CursorEnd: cursor}
}

// Restart replaces the interpreter with a fresh one.
func (in *Interpreter) Restart(ctx context.Context) error {
	w, err := startWorker()
	if err != nil {
		return fmt.Errorf("restarting the Go interpreter: %w", err)
	}
	in.mu.Lock()
	old := in.w
	in.w = w
	in.mu.Unlock()
	if old != nil {
		old.stop()
	}
	return nil
}

// Close ends the interpreter. A cell's goroutine still in a compiled call
// is left to return.
func (in *Interpreter) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.w != nil {
		in.w.stop()
		in.w = nil
	}
	return nil
}
