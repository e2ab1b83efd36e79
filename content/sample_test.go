package content

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExtractSampleLoads(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "sample")
	// Extracting twice overwrites, as `wod up` does on every start.
	for range 2 {
		if err := ExtractSample(dst); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := Load([]string{dst})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 {
		t.Fatalf("got %d workshops (%s), want WKSHP-Welcome101 alone", len(ws), slugs(ws))
	}
	w := ws[0]
	if w.Slug != "WKSHP-Welcome101" || w.Title != "Welcome to Jupyter notebooks" ||
		w.SeatMin != 1 || w.SeatMax != 20 || w.Capacity != 20 || !w.Active ||
		w.Duration.Std() != 2*time.Hour || w.ContentDir != dst {
		t.Errorf("unexpected sample workshop %+v", w)
	}
	for _, name := range []string{"0-ReadMeFirst.ipynb", "1-WKSHP-First-Steps.ipynb"} {
		info, err := os.Stat(filepath.Join(dst, "WKSHP-Welcome101", name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", name, info.Mode().Perm())
		}
	}
}

// The notebooks are templates, but the original's Jinja lives inside JSON
// strings, so the raw files must already be valid notebooks.
func TestSampleNotebooks(t *testing.T) {
	var found int
	err := fs.WalkDir(Sample, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(name, ".ipynb") {
			return err
		}
		found++
		data, err := fs.ReadFile(Sample, name)
		if err != nil {
			return err
		}
		var nb struct {
			NBFormat int `json:"nbformat"`
			Metadata struct {
				KernelSpec struct {
					Name string `json:"name"`
				} `json:"kernelspec"`
			} `json:"metadata"`
			Cells []struct {
				CellType       string `json:"cell_type"`
				ExecutionCount *int   `json:"execution_count"`
				Outputs        []any  `json:"outputs"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(data, &nb); err != nil {
			t.Errorf("%s: not valid JSON: %v", name, err)
			return nil
		}
		if nb.NBFormat != 4 || nb.Metadata.KernelSpec.Name != "python3" || len(nb.Cells) == 0 {
			t.Errorf("%s: nbformat %d, kernel %q, %d cells", name, nb.NBFormat, nb.Metadata.KernelSpec.Name, len(nb.Cells))
		}
		for i, c := range nb.Cells {
			if c.CellType == "code" && (c.ExecutionCount != nil || len(c.Outputs) != 0) {
				t.Errorf("%s: code cell %d ships with outputs", name, i)
			}
		}
		for _, v := range []string{"{{ BRANDINGWOD }}", "{{ BRANDINGLOGO }}", "{{ STDID }}"} {
			if !strings.Contains(string(data), v) {
				t.Errorf("%s does not use %s", name, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != 2 {
		t.Errorf("found %d notebooks, want 2", found)
	}
}
