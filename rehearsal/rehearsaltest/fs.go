// Package rehearsaltest has a wod.NotebookExecutor for tests of what
// surrounds the execution (booking, waiting, verdict, cleanup): it runs
// nothing through a hub, but reads the notebooks the agent rendered into
// the student's home and reports their cells.
package rehearsaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/wod-dev/wod"
)

// FSExecutor reads the rendered notebooks from Root/<username>/<path> and
// reports each code cell: skipped when the notebook's or the cell's
// metadata says so ("wod": {"rehearse": false}, or the tag
// skip-rehearsal), an error when its source contains Fail (when set), ok
// otherwise. Like the real executor, which saves each notebook as the
// notebook page does, it marks the cells it "ran" as executed in the file,
// so that the completion measured at cleanup counts them.
type FSExecutor struct {
	Root string
	Fail string
	// NoSave leaves the files as they are: the cells are reported ok but
	// the completion measured at cleanup does not count them (an executor
	// whose saves are lost).
	NoSave bool

	mu    sync.Mutex
	calls []Call
}

// Call is one RunNotebooks call, as the executor got it.
type Call struct {
	HubURL, Username, Password string
	Notebooks                  []string
	Options                    wod.RehearsalOptions
}

// Calls returns the calls so far.
func (x *FSExecutor) Calls() []Call {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.calls)
}

// RunNotebooks reports the notebooks' cells.
func (x *FSExecutor) RunNotebooks(ctx context.Context, hubURL, username, password string, notebooks []string, opt wod.RehearsalOptions) ([]wod.NotebookRun, error) {
	x.mu.Lock()
	x.calls = append(x.calls, Call{HubURL: hubURL, Username: username, Password: password, Notebooks: notebooks, Options: opt})
	x.mu.Unlock()
	if password == "" {
		return nil, fmt.Errorf("login as %s refused: no password", username)
	}
	var runs []wod.NotebookRun
	for _, p := range notebooks {
		if err := ctx.Err(); err != nil {
			return runs, err
		}
		runs = append(runs, x.notebook(filepath.Join(x.Root, username, filepath.FromSlash(p)), p))
		if opt.Progress != nil {
			opt.Progress(runs)
		}
	}
	return runs, nil
}

type nbJSON struct {
	Metadata map[string]any `json:"metadata"`
	Cells    []struct {
		CellType string         `json:"cell_type"`
		Source   any            `json:"source"`
		Metadata map[string]any `json:"metadata"`
	} `json:"cells"`
}

func (x *FSExecutor) notebook(file, p string) wod.NotebookRun {
	run := wod.NotebookRun{Path: p, Cells: []wod.CellRun{}}
	b, err := os.ReadFile(file)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	var nb nbJSON
	var raw map[string]any
	if err := json.Unmarshal(b, &nb); err != nil {
		run.Error = "not a notebook: " + err.Error()
		return run
	}
	json.Unmarshal(b, &raw)
	if ks, ok := nb.Metadata["kernelspec"].(map[string]any); ok {
		run.Kernel, _ = ks["name"].(string)
	}
	if wod.SkipsRehearsal(nb.Metadata) {
		run.Skipped = true
		return run
	}
	cells, _ := raw["cells"].([]any)
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		src := source(c.Source)
		cr := wod.CellRun{Index: i, Source: firstLines(src, 3)}
		switch {
		case wod.SkipsRehearsal(c.Metadata):
			cr.Status = wod.CellSkipped
		case x.Fail != "" && strings.Contains(src, x.Fail):
			cr.Status, cr.EName, cr.EValue = wod.CellError, "Exception", "the cell holds "+x.Fail
		default:
			cr.Status = wod.CellOK
			if i < len(cells) {
				if m, ok := cells[i].(map[string]any); ok {
					m["execution_count"] = i + 1
				}
			}
		}
		run.Cells = append(run.Cells, cr)
	}
	if x.NoSave {
		return run
	}
	out, err := json.MarshalIndent(raw, "", " ")
	if err == nil {
		// Written in place: the file keeps its owner, the student.
		err = os.WriteFile(file, out, 0)
	}
	if err != nil {
		run.Error = "save: " + err.Error()
	}
	return run
}

func source(s any) string {
	switch v := s.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, l := range v {
			if s, ok := l.(string); ok {
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return ""
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
