package jupyterhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// Rehearsal defaults.
const (
	// DefaultCellTimeout bounds one cell of a rehearsal.
	DefaultCellTimeout = 2 * time.Minute
	// DefaultRehearsalInput answers input requests: int(input()) passes.
	DefaultRehearsalInput = "1"

	defaultServerTimeout  = 2 * time.Minute
	defaultKernelTimeout  = time.Minute
	defaultInterruptGrace = 10 * time.Second
)

// Rehearser runs notebooks as a participant's browser does (wod's
// NotebookExecutor): the hub's login form, the proxy, the notebook server's
// contents and kernels APIs, and each kernel's channels websocket. Each
// notebook gets a kernel of its own kernelspec; its code cells run in order
// and the notebook is saved with their outputs, as the notebook page saves
// it, so that the completion measured at cleanup counts them.
type Rehearser struct {
	// ServerTimeout bounds opening the participant's server, spawn
	// included (default 2 min).
	ServerTimeout time.Duration
	// KernelTimeout bounds starting, connecting to and restarting a
	// kernel (default 1 min).
	KernelTimeout time.Duration
	// InterruptGrace is how long an interrupted cell may take to reply
	// before its kernel is restarted (default 10 s).
	InterruptGrace time.Duration
	// Logger receives one line per notebook and per failing cell; nil
	// discards.
	Logger *slog.Logger
}

var _ wod.NotebookExecutor = (*Rehearser)(nil)

// RunNotebooks implements wod.NotebookExecutor.
func (r *Rehearser) RunNotebooks(ctx context.Context, hubURL, username, password string, notebooks []string, opt wod.RehearsalOptions) ([]wod.NotebookRun, error) {
	if opt.CellTimeout <= 0 {
		opt.CellTimeout = DefaultCellTimeout
	}
	if opt.Input == "" {
		opt.Input = DefaultRehearsalInput
	}
	p := NewParticipant(hubURL, username)
	ok, err := p.Login(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("rehearsal: logging in %s: %w", username, err)
	}
	if !ok {
		return nil, fmt.Errorf("rehearsal: the hub refused the password of %s", username)
	}
	octx, cancel := context.WithTimeout(ctx, orDefault(r.ServerTimeout, defaultServerTimeout))
	err = p.Open(octx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("rehearsal: opening the server of %s: %w", username, err)
	}
	specs, err := p.kernelspecs(ctx)
	if err != nil {
		return nil, fmt.Errorf("rehearsal: the kernels of %s's server: %w", username, err)
	}
	runs := make([]wod.NotebookRun, 0, len(notebooks))
	progress := func() {
		if opt.Progress != nil {
			opt.Progress(cloneRuns(runs))
		}
	}
	for _, path := range notebooks {
		if err := ctx.Err(); err != nil {
			return runs, fmt.Errorf("rehearsal: %w", err)
		}
		runs = append(runs, wod.NotebookRun{Path: workshopRelative(path), Cells: []wod.CellRun{}})
		nr := &runs[len(runs)-1]
		start := time.Now()
		err := r.runNotebook(ctx, p, path, specs, nr, opt, progress)
		progress()
		r.logger().Info("rehearsed a notebook", "user", username, "notebook", path, "kernel", nr.Kernel,
			"skipped", nr.Skipped, "error", nr.Error, "cells", len(nr.Cells), "failed", nr.Failed(),
			"took", time.Since(start).Round(time.Millisecond))
		if err != nil {
			return runs, fmt.Errorf("rehearsal: %s: %w", path, err)
		}
	}
	return runs, nil
}

// runNotebook runs one notebook into nr. Its error is for what stops the
// whole rehearsal (ctx ended); a notebook that cannot run says so in
// nr.Error.
func (r *Rehearser) runNotebook(ctx context.Context, p *Participant, path string, specs kernelspecs, nr *wod.NotebookRun, opt wod.RehearsalOptions, progress func()) error {
	nb, err := p.Notebook(ctx, path)
	if err != nil || nb == nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		nr.Error = fmt.Sprintf("reading the notebook: %v", err)
		return nil
	}
	meta, _ := nb["metadata"].(map[string]any)
	spec, _ := meta["kernelspec"].(map[string]any)
	nr.Kernel, _ = spec["name"].(string)
	if wod.SkipsRehearsal(meta) {
		nr.Skipped = true
		return nil
	}
	if nr.Kernel == "" {
		nr.Kernel = specs.Default
	}
	kernel, ok := specs.find(nr.Kernel)
	if !ok {
		nr.Error = fmt.Sprintf("kernel %s is not installed", nr.Kernel)
		return nil
	}
	cells, _ := nb["cells"].([]any)
	var toRun int
	for _, c := range cells {
		if c, _ := c.(map[string]any); c["cell_type"] == "code" && cellRehearsed(c) {
			toRun++
		}
	}
	var k *kernelSession
	if toRun > 0 {
		if k, err = r.openKernel(ctx, p, kernel); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			nr.Error = err.Error()
			return nil
		}
		defer k.shutdown(ctx)
	}
	ran := false
	defer func() {
		if !ran {
			return
		}
		// Saved even when ctx ended: what ran counts for the completion.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := p.SaveNotebook(sctx, path, nb); err != nil && nr.Error == "" {
			nr.Error = fmt.Sprintf("saving the notebook: %v", err)
		}
	}()
	for i, c := range cells {
		cell, _ := c.(map[string]any)
		if cell["cell_type"] != "code" {
			continue
		}
		code := cellSource(cell)
		if !cellRehearsed(cell) {
			nr.Cells = append(nr.Cells, wod.CellRun{Index: i, Status: wod.CellSkipped, Source: sourceExcerpt(code)})
			progress()
			continue
		}
		run, ex, err := r.runCell(ctx, k, code, opt)
		run.Index = i
		if ex != nil {
			ran = true
			writeCell(cell, ex)
		}
		nr.Cells = append(nr.Cells, run)
		progress()
		if lost := (errKernelLost{}); errors.As(err, &lost) {
			nr.Error = "the kernel could not be restarted: " + lost.err.Error()
			return nil
		}
		if err != nil {
			return err
		}
		if run.Status.Failed() {
			r.logger().Info("a rehearsed cell failed", "user", p.Name, "notebook", path, "cell", i,
				"status", run.Status, "ename", run.EName, "evalue", run.EValue)
		}
	}
	return nil
}

// kernelSession is a kernel and its open websocket; the websocket is
// dialled again after a restart.
type kernelSession struct {
	p    *Participant
	id   string
	conn *kernelConn
}

func (r *Rehearser) openKernel(ctx context.Context, p *Participant, name string) (*kernelSession, error) {
	kctx, cancel := context.WithTimeout(ctx, orDefault(r.KernelTimeout, defaultKernelTimeout))
	defer cancel()
	id, err := p.startKernel(kctx, name)
	if err != nil {
		return nil, err
	}
	conn, err := p.dialKernel(kctx, id)
	if err != nil {
		_ = p.shutdownKernel(ctx, id)
		return nil, fmt.Errorf("connecting to the %s kernel: %w", name, err)
	}
	return &kernelSession{p: p, id: id, conn: conn}, nil
}

// restart restarts the kernel (the server waits for it to answer) and
// reconnects, so that the next cells run.
func (r *Rehearser) restart(ctx context.Context, k *kernelSession) error {
	kctx, cancel := context.WithTimeout(ctx, orDefault(r.KernelTimeout, defaultKernelTimeout))
	defer cancel()
	k.conn.close()
	if err := k.p.restartKernel(kctx, k.id); err != nil {
		return fmt.Errorf("restarting the kernel: %w", err)
	}
	return k.redial(kctx)
}

func (k *kernelSession) redial(ctx context.Context) error {
	k.conn.close()
	conn, err := k.p.dialKernel(ctx, k.id)
	if err != nil {
		return fmt.Errorf("reconnecting to the kernel: %w", err)
	}
	k.conn = conn
	return nil
}

func (k *kernelSession) shutdown(ctx context.Context) {
	k.conn.close()
	_ = k.p.shutdownKernel(ctx, k.id)
}

// kernelspecs is the notebook server's GET /api/kernelspecs.
type kernelspecs struct {
	Default     string         `json:"default"`
	Kernelspecs map[string]any `json:"kernelspecs"`
}

func (p *Participant) kernelspecs(ctx context.Context) (kernelspecs, error) {
	var ks kernelspecs
	err := p.API(ctx, http.MethodGet, "/api/kernelspecs", nil, &ks)
	return ks, err
}

// find returns the installed kernelspec of a notebook's name; Jupyter
// matches them without case.
func (ks kernelspecs) find(name string) (string, bool) {
	for k := range ks.Kernelspecs {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func (r *Rehearser) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// workshopRelative drops the workshop folder: "WKSHP-X/1-Intro.ipynb" is
// reported as "1-Intro.ipynb".
func workshopRelative(path string) string {
	if _, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/"); ok {
		return rest
	}
	return path
}

// cloneRuns copies the runs for Progress, whose caller may keep them while
// the rehearsal appends.
func cloneRuns(runs []wod.NotebookRun) []wod.NotebookRun {
	out := make([]wod.NotebookRun, len(runs))
	for i, n := range runs {
		out[i] = n
		out[i].Cells = append([]wod.CellRun{}, n.Cells...)
	}
	return out
}

// errKernelDied is the server reporting the kernel dead or restarting
// while a cell ran.
var errKernelDied = errors.New("the kernel died")
