package content

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxNotebook bounds what Completion reads of one notebook: a student can
// make a notebook of any size, and outputs make real ones a few MB at most.
const maxNotebook = 64 << 20

// Notebooks lists the workshop's notebooks in src (an fs.FS rooted at the
// WKSHP-* folder), as slash paths relative to it in lexical order: the .ipynb
// files Deploy deploys (checkpoint copies and symbolic links left out), at
// any depth. Deploy puts them under the directory it is given, so for the
// completion of a student whose home holds the workshop as <home>/<slug>, the
// paths to give Completion are path.Join(slug, n) for each n. An unreadable
// folder gives what could be listed.
func Notebooks(src fs.FS) []string {
	var nbs []string
	fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && deployed(name) && strings.HasSuffix(name, ".ipynb") {
			nbs = append(nbs, name)
		}
		return nil // list what can be read
	})
	return nbs
}

// Completion returns the percentage of the code cells the student executed
// over the given notebooks (slash paths relative to the student's home):
// executed code cells × 100 / code cells, rounded down, 0 when there is no
// code cell. The notebooks are parsed as nbformat 4 JSON (cells[] with
// cell_type "code"); a code cell is executed when its execution_count is a
// number or when it has outputs. This replaces the original's count of text
// lines holding "execution_count", which also counted the execute_result
// outputs.
//
// A notebook that is missing, unreadable, not JSON or larger than 64 MiB is
// skipped, since the student may have deleted or broken it; a notebook
// without code cells adds nothing. The student prepared the home: a
// notebook is read only when it is a regular file owned by uid reached
// without a symbolic link, and opened without blocking (see
// openStudentFile); anything else is skipped. The error is for a home that
// cannot be opened.
func Completion(home string, notebooks []string, uid int) (percent int, err error) {
	root, err := os.OpenRoot(home)
	if err != nil {
		return 0, fmt.Errorf("content: completion: %w", err)
	}
	defer root.Close()
	var code, executed int
	for _, nb := range notebooks {
		c, e, ok := countCells(root, nb, uid)
		if ok {
			code += c
			executed += e
		}
	}
	if code == 0 {
		return 0, nil
	}
	return executed * 100 / code, nil
}

// notebook is the part of nbformat 4 that completion needs.
type notebook struct {
	Cells []struct {
		CellType       string            `json:"cell_type"`
		ExecutionCount any               `json:"execution_count"`
		Outputs        []json.RawMessage `json:"outputs"`
	} `json:"cells"`
}

// countCells returns the code cells of one notebook and how many of them
// ran; ok is false for a notebook to skip.
func countCells(root *os.Root, name string, uid int) (code, executed int, ok bool) {
	f, info, err := openStudentFile(root, name, uid)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	if info.Size() > maxNotebook {
		return 0, 0, false
	}
	data, err := io.ReadAll(io.LimitReader(f, maxNotebook+1))
	if err != nil || len(data) > maxNotebook {
		return 0, 0, false
	}
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return 0, 0, false
	}
	for _, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		code++
		if _, isNumber := c.ExecutionCount.(float64); isNumber || len(c.Outputs) > 0 {
			executed++
		}
	}
	return code, executed, true
}
