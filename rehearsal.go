package wod

import (
	"context"
	"time"
)

// A rehearsal is a robot participant that takes a seat like anyone, logs in
// to the hub and runs every notebook of a workshop cell by cell through its
// kernels, then has the seat cleaned up and checks the completion measured
// there. It proves a workshop works before a participant finds out it
// does not.

// RehearsalState is where a rehearsal is.
type RehearsalState string

// Rehearsal states.
const (
	RehearsalRunning RehearsalState = "running"
	RehearsalPassed  RehearsalState = "passed"
	RehearsalFailed  RehearsalState = "failed"
)

// CellStatus is the outcome of one cell of a rehearsal.
type CellStatus string

// Cell outcomes.
const (
	CellOK       CellStatus = "ok"
	CellError    CellStatus = "error"   // the kernel replied error (EName, EValue, Traceback)
	CellTimeout  CellStatus = "timeout" // interrupted after the per-cell timeout
	CellSkipped  CellStatus = "skipped" // metadata asked not to rehearse it
	CellAnswered CellStatus = "answered-input"
)

// Failed reports whether the outcome fails the rehearsal.
func (s CellStatus) Failed() bool { return s == CellError || s == CellTimeout }

// CellRun is one code cell as the rehearsal ran it.
type CellRun struct {
	// Index is the cell's position among all the notebook's cells, from 0.
	Index  int        `json:"index"`
	Status CellStatus `json:"status"`
	// Source is the first lines of the cell's code.
	Source    string `json:"source,omitempty"`
	EName     string `json:"ename,omitempty"`
	EValue    string `json:"evalue,omitempty"`
	Traceback string `json:"traceback,omitempty"` // an excerpt, ANSI colours removed
	// Output is the first lines of what the cell printed.
	Output string `json:"output,omitempty"`
	// Inputs are the answers given to the cell's input requests.
	Inputs   int           `json:"inputs,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// NotebookRun is one notebook of a rehearsal.
type NotebookRun struct {
	Path   string `json:"path"` // relative to the workshop folder
	Kernel string `json:"kernel"`
	// Skipped: the notebook's metadata asked not to rehearse it.
	Skipped bool `json:"skipped,omitempty"`
	// Error is a notebook that could not be run at all (no such kernel,
	// unreadable).
	Error string    `json:"error,omitempty"`
	Cells []CellRun `json:"cells"`
}

// Failed reports whether the notebook fails the rehearsal.
func (n *NotebookRun) Failed() bool {
	if n.Error != "" {
		return true
	}
	for _, c := range n.Cells {
		if c.Status.Failed() {
			return true
		}
	}
	return false
}

// FirstFailure returns the first failing cell, or nil.
func (n *NotebookRun) FirstFailure() *CellRun {
	for i := range n.Cells {
		if n.Cells[i].Status.Failed() {
			return &n.Cells[i]
		}
	}
	return nil
}

// Rehearsal is one run of a workshop by the robot participant.
type Rehearsal struct {
	ID         int64          `json:"id"`
	WorkshopID int64          `json:"workshop_id"`
	Workshop   string         `json:"workshop"` // slug
	State      RehearsalState `json:"state"`
	// RequestedBy is the operator, "schedule" or "cli".
	RequestedBy string `json:"requested_by"`
	// RegistrationID is the seat's registration, once booked.
	RegistrationID *int64 `json:"registration_id,omitempty"`
	Location       string `json:"location,omitempty"`
	// Completion is what cleanup measured; a rehearsal whose cells all ran
	// must see 100.
	Completion *int `json:"completion,omitempty"`
	// Error is why the rehearsal failed outside the cells (no seat, login
	// refused, cleanup did not measure 100 %).
	Error     string        `json:"error,omitempty"`
	Notebooks []NotebookRun `json:"notebooks"`

	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// RehearsalService stores rehearsals.
type RehearsalService interface {
	// CreateRehearsal stores a running rehearsal of r.Workshop.
	CreateRehearsal(ctx context.Context, r *Rehearsal) error
	// UpdateRehearsal saves its progress (registration, notebooks) and, once
	// State is final, its end.
	UpdateRehearsal(ctx context.Context, r *Rehearsal) error
	// FindRehearsal returns one rehearsal, or ENOTFOUND.
	FindRehearsal(ctx context.Context, id int64) (*Rehearsal, error)
	// FindRehearsals lists a workshop's rehearsals, newest first, at most
	// limit of them.
	FindRehearsals(ctx context.Context, workshop string, limit int) ([]*Rehearsal, error)
	// LastRehearsals returns each workshop's latest rehearsal, by slug.
	LastRehearsals(ctx context.Context) (map[string]*Rehearsal, error)
}

// RehearsalOptions tune how a rehearsal runs the notebooks.
type RehearsalOptions struct {
	// CellTimeout bounds one cell; the kernel is interrupted past it and
	// the cell reported as CellTimeout.
	CellTimeout time.Duration
	// Input answers every input request (default "1", so that
	// int(input()) passes).
	Input string
	// Progress, when set, is called after each cell with the notebooks run
	// so far (the last one in progress), so that the rehearsal can be
	// followed live.
	Progress func([]NotebookRun)
}

// NotebookExecutor runs notebooks as a participant does: through the hub's
// login form, the proxy, the notebook server and the kernels' websockets,
// saving each notebook with its outputs as the notebook page does (so that
// the completion measured at cleanup counts the cells run).
type NotebookExecutor interface {
	// RunNotebooks logs username in at hubURL with password, opens their
	// server and runs each notebook (paths relative to the student's home,
	// e.g. "WKSHP-X/1-Intro.ipynb"), in order. The error is for what stops
	// the whole run (login refused, server not starting, ctx ended); a
	// notebook or a cell that fails is reported in its NotebookRun.
	RunNotebooks(ctx context.Context, hubURL, username, password string, notebooks []string, opt RehearsalOptions) ([]NotebookRun, error)
}

// SkippedAny reports whether the notebook or one of its cells was skipped: a
// rehearsal with a skipped cell cannot expect 100 % completion.
func (n *NotebookRun) SkippedAny() bool {
	if n.Skipped {
		return true
	}
	for _, c := range n.Cells {
		if c.Status == CellSkipped {
			return true
		}
	}
	return false
}

// FirstFailure returns the rehearsal's first failing notebook and cell
// (the cell is nil for a notebook that could not run at all), or nil, nil.
func (r *Rehearsal) FirstFailure() (*NotebookRun, *CellRun) {
	for i := range r.Notebooks {
		n := &r.Notebooks[i]
		if c := n.FirstFailure(); c != nil {
			return n, c
		}
		if n.Error != "" {
			return n, nil
		}
	}
	return nil, nil
}

// CellFailures counts the failed cells and the notebooks that could not
// run.
func (r *Rehearsal) CellFailures() int {
	n := 0
	for _, nb := range r.Notebooks {
		if nb.Error != "" {
			n++
		}
		for _, c := range nb.Cells {
			if c.Status.Failed() {
				n++
			}
		}
	}
	return n
}

// Final reports whether the state is an end.
func (s RehearsalState) Final() bool { return s == RehearsalPassed || s == RehearsalFailed }

// RehearsalStore is what stores rehearsals beyond the service: their end
// with an operator alert in one transaction, and the rehearsals that a
// crash or restart left running.
type RehearsalStore interface {
	RehearsalService
	// FinishRehearsal saves the final rehearsal and queues the alert (when
	// not nil) in one transaction, so that a crash neither loses the
	// alert nor sends it twice.
	FinishRehearsal(ctx context.Context, r *Rehearsal, alert *Mail) error
	// FailStaleRehearsals fails, with the reason, the rehearsals still
	// running that were last updated before the time (their runner is
	// gone: it saves progress at least every minute), and returns them.
	FailStaleRehearsals(ctx context.Context, before time.Time, reason string) ([]*Rehearsal, error)
}

// SkipsRehearsal reports whether a notebook's or a cell's metadata asks
// not to rehearse it: "wod": {"rehearse": false}, or the tag
// skip-rehearsal. It is the one rule the executor and the tests share.
func SkipsRehearsal(metadata map[string]any) bool {
	if w, ok := metadata["wod"].(map[string]any); ok {
		if r, ok := w["rehearse"].(bool); ok && !r {
			return true
		}
	}
	tags, _ := metadata["tags"].([]any)
	for _, t := range tags {
		if t == "skip-rehearsal" {
			return true
		}
	}
	return false
}
