package content

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/wod-dev/wod/testenv"
)

// Cells of fixture notebooks.
const (
	ran       = `{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [], "source": ["1"]}`
	notRun    = `{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["2"]}`
	outputs   = `{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi"]}], "source": ["3"]}`
	markdown  = `{"cell_type": "markdown", "metadata": {}, "source": ["# execution_count: 1"]}`
	rawCell   = `{"cell_type": "raw", "metadata": {}, "source": ["x"]}`
	nbPrefix  = `{"cells": [`
	nbPostfix = `], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}`
)

func nb(cells ...string) string {
	s := nbPrefix
	for i, c := range cells {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s + nbPostfix
}

func TestCompletion(t *testing.T) {
	home := t.TempDir()
	ws := "WKSHP-Test101"
	outside := filepath.Join(t.TempDir(), "many.ipynb")
	mustWrite(t, outside, nb(ran, ran, ran, ran, ran, ran))
	files := map[string]string{
		"1-lab.ipynb":     nb(markdown, ran, notRun, rawCell),
		"2-lab.ipynb":     nb(ran, outputs, markdown),
		"3-text.ipynb":    nb(markdown),
		"4-broken.ipynb":  `{"cells": [` + ran,
		"5-partial.ipynb": nb(ran, notRun, notRun),
	}
	for name, data := range files {
		mustWrite(t, filepath.Join(home, ws, name), data)
	}
	mustSymlink(t, outside, filepath.Join(home, ws, "6-link.ipynb"))
	// Inside the home, a link is still not the student's notebook: root
	// does not follow what the student prepared.
	mustSymlink(t, "1-lab.ipynb", filepath.Join(home, ws, "7-inside-link.ipynb"))
	// A FIFO named like a notebook: opening it for reading the usual way
	// blocks until someone writes, which nobody will.
	if err := syscall.Mkfifo(filepath.Join(home, ws, "8-fifo.ipynb"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A notebook of another owner (a root file the student moved in).
	mustWrite(t, filepath.Join(home, ws, "9-other.ipynb"), nb(ran, ran, ran, ran))
	if err := os.Lchown(filepath.Join(home, ws, "9-other.ipynb"), os.Getuid()+1, os.Getgid()); err != nil {
		testenv.Missing(t, testenv.RequireRoot, "cannot give a file away (not root?): %v", err)
	}
	in := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, path.Join(ws, n))
		}
		return out
	}
	tests := []struct {
		name      string
		notebooks []string
		want      int
	}{
		{"3 of 4 over two notebooks", in("1-lab.ipynb", "2-lab.ipynb"), 75},
		{"a missing notebook is skipped", in("1-lab.ipynb", "0-deleted.ipynb", "2-lab.ipynb"), 75},
		{"no code cells adds nothing", in("1-lab.ipynb", "2-lab.ipynb", "3-text.ipynb"), 75},
		{"an unparsable notebook is skipped", in("1-lab.ipynb", "4-broken.ipynb", "2-lab.ipynb"), 75},
		{"a link out of the home is skipped", in("1-lab.ipynb", "2-lab.ipynb", "6-link.ipynb"), 75},
		{"a link inside the home is skipped", in("1-lab.ipynb", "2-lab.ipynb", "7-inside-link.ipynb"), 75},
		{"a FIFO is skipped, without blocking", in("1-lab.ipynb", "8-fifo.ipynb", "2-lab.ipynb"), 75},
		{"a file of another owner is skipped", in("1-lab.ipynb", "9-other.ipynb", "2-lab.ipynb"), 75},
		{"escaping names are skipped", []string{"../x.ipynb", "/etc/passwd", path.Join(ws, "1-lab.ipynb")}, 50},
		{"rounded down", in("5-partial.ipynb"), 33},
		{"no code cell at all", in("3-text.ipynb", "0-deleted.ipynb"), 0},
		{"no notebook", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Completion(home, tt.notebooks, os.Getuid())
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	if _, err := Completion(filepath.Join(home, "nobody"), in("1-lab.ipynb"), os.Getuid()); err == nil {
		t.Error("no error for a missing home")
	}
}

func TestNotebooks(t *testing.T) {
	src := fstest.MapFS{
		"0-ReadMeFirst.ipynb": {},
		"2-WKSHP-B.ipynb":     {},
		"1-WKSHP-A.ipynb":     {},
		".ipynb_checkpoints/0-ReadMeFirst-checkpoint.ipynb": {},
		"Student-solution/1-solution.ipynb":                 {},
		"Pictures/a.png":                                    {},
		"link.ipynb":                                        {Mode: fs.ModeSymlink},
		MetaFile:                                            {},
	}
	want := []string{"0-ReadMeFirst.ipynb", "1-WKSHP-A.ipynb", "2-WKSHP-B.ipynb", "Student-solution/1-solution.ipynb"}
	if got := Notebooks(src); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	sample, _ := fs.Sub(Sample, "WKSHP-Welcome101")
	if got := Notebooks(sample); !slices.Equal(got, []string{"0-ReadMeFirst.ipynb", "1-WKSHP-First-Steps.ipynb"}) {
		t.Errorf("sample: %q", got)
	}
}
