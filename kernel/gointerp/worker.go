package gointerp

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/cosmos72/gomacro/base"
	"github.com/cosmos72/gomacro/fast"
)

// worker owns one gomacro interpreter on one goroutine. gomacro binds an
// interpreter's top-level state to the goroutine that created it (it keys
// its per-goroutine state on the runtime's g), so every call into it is
// sent here as a job rather than made from the caller's goroutine.
type worker struct {
	ir   *fast.Interp // only touched by jobs, except interrupt
	jobs chan func(*fast.Interp)
	quit chan struct{} // closed by stop
	once sync.Once
}

// startWorker creates the interpreter on a new goroutine and waits until
// it is ready.
func startWorker() (*worker, error) {
	w := &worker{jobs: make(chan func(*fast.Interp)), quit: make(chan struct{})}
	ready := make(chan error, 1)
	go w.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

func (w *worker) run(ready chan<- error) {
	ir, err := newInterp()
	if err != nil {
		ready <- err
		return
	}
	w.ir = ir
	ready <- nil
	for {
		select {
		case job := <-w.jobs:
			job(ir)
		case <-w.quit:
			return
		}
	}
}

func newInterp() (ir *fast.Interp, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("starting gomacro: %v", r)
		}
	}()
	// gomacro's type converter prints a warning for each generic function
	// of package reflect straight to os.Stdout as it starts.
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		stdout := os.Stdout
		os.Stdout = null
		defer func() {
			os.Stdout = stdout
			null.Close()
		}()
	}
	ir = fast.New()
	// gomacro's own warnings and REPL chatter are not the cell's output.
	ir.Comp.Stdout = io.Discard
	ir.Comp.Stderr = io.Discard
	// Panics must reach eval's recover, to become error replies.
	ir.Comp.Options &^= base.OptShowPrompt | base.OptTrapPanic
	return ir, nil
}

// do runs job on the worker's goroutine; done is closed when it returns,
// or at once, without running it, if the worker is stopped.
func (w *worker) do(job func(*fast.Interp)) (done <-chan struct{}) {
	c := make(chan struct{})
	select {
	case w.jobs <- func(ir *fast.Interp) {
		defer close(c)
		job(ir)
	}:
	case <-w.quit:
		close(c)
	}
	return c
}

// stop ends the goroutine once the job it runs, if any, returns.
func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }
