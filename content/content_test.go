package content

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

// writeFile writes data to dir/name, creating the folders on the way.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// workshopYML returns api101 with another name and range.
func workshopYML(name, rng string) string {
	return withKey(withKey(api101, "name", "name: '"+name+"'"), "range", "range: "+rng)
}

func slugs(ws []*wod.Workshop) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.Slug
	}
	return strings.Join(s, ",")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "WKSHP-Python101/wod.yml", workshopYML("Python 101", "[52,57]"))
	writeFile(t, dir, "WKSHP-API101/wod.yml", api101)
	writeFile(t, dir, "WKSHP-API101/0-ReadMeFirst.ipynb", "{}")
	writeFile(t, dir, "scripts/create-WKSHP-API101.sh", "#!/bin/sh\n")
	writeFile(t, dir, "README.md", "# content\n")
	writeFile(t, dir, "WKSHP-notes.txt", "not a folder\n")
	if err := os.Mkdir(filepath.Join(dir, "Pictures"), 0o755); err != nil { // no wod.yml, not a workshop
		t.Fatal(err)
	}

	ws, err := Load([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := slugs(ws); got != "WKSHP-API101,WKSHP-Python101" {
		t.Fatalf("slugs %s, want WKSHP-API101,WKSHP-Python101 (sorted, others ignored)", got)
	}
	for _, w := range ws {
		if w.ContentDir != dir {
			t.Errorf("%s: ContentDir %q, want %q", w.Slug, w.ContentDir, dir)
		}
	}
	if ws[1].Title != "Python 101" || ws[1].SeatMin != 52 || ws[1].SeatMax != 57 {
		t.Errorf("unexpected %+v", ws[1])
	}
}

func TestLoadOverlay(t *testing.T) {
	public, private := t.TempDir(), t.TempDir()
	writeFile(t, public, "WKSHP-API101/wod.yml", api101)
	writeFile(t, public, "WKSHP-GIT101/wod.yml", workshopYML("GIT 101", "[76,81]"))
	// The private copy drops keys on purpose: the whole file wins, so the
	// public capacity (20) must not leak into it.
	writeFile(t, private, "WKSHP-API101/wod.yml",
		withKey(workshopYML("API 101 (in-house)", "[1981-1985]"), "capacity", ""))
	writeFile(t, private, "WKSHP-Secret101/wod.yml", workshopYML("Secret 101", "[90,99]"))

	ws, err := Load([]string{public, private})
	if err != nil {
		t.Fatal(err)
	}
	if got := slugs(ws); got != "WKSHP-API101,WKSHP-GIT101,WKSHP-Secret101" {
		t.Fatalf("slugs %s", got)
	}
	api, git, secret := ws[0], ws[1], ws[2]
	if api.Title != "API 101 (in-house)" || api.SeatMin != 1981 || api.SeatMax != 1985 || api.Capacity != 5 {
		t.Errorf("private did not override public: %+v", api)
	}
	if api.ContentDir != private || secret.ContentDir != private || git.ContentDir != public {
		t.Errorf("ContentDir api %q git %q secret %q, want %q %q %q",
			api.ContentDir, git.ContentDir, secret.ContentDir, private, public, private)
	}
}

func TestLoadRelativeDirIsRecordedAbsolute(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "WKSHP-API101/wod.yml", api101)
	t.Chdir(filepath.Dir(dir))
	ws, err := Load([]string{filepath.Base(dir)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].ContentDir != dir {
		t.Errorf("got %+v, want one workshop with ContentDir %q", ws, dir)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (dirs []string, path, key, word string)
	}{
		{"missing directory", func(t *testing.T, dir string) ([]string, string, string, string) {
			missing := filepath.Join(dir, "nope")
			return []string{missing}, missing, "", "does not exist"
		}},
		{"file as directory", func(t *testing.T, dir string) ([]string, string, string, string) {
			file := writeFile(t, dir, "content.txt", "")
			return []string{file}, file, "", "not a directory"
		}},
		{"folder without wod.yml", func(t *testing.T, dir string) ([]string, string, string, string) {
			writeFile(t, dir, "WKSHP-Empty/0-ReadMeFirst.ipynb", "{}")
			return []string{dir}, filepath.Join(dir, "WKSHP-Empty"), "", "has no wod.yml"
		}},
		{"bad key", func(t *testing.T, dir string) ([]string, string, string, string) {
			path := writeFile(t, dir, "WKSHP-API101/wod.yml", withKey(api101, "range", "range: [7-3]"))
			return []string{dir}, path, "range", "below its start"
		}},
		{"unknown key", func(t *testing.T, dir string) ([]string, string, string, string) {
			path := writeFile(t, dir, "WKSHP-API101/wod.yml", withKey(api101, "colour", "colour: red"))
			return []string{dir}, path, "colour", "not a wod.yml key"
		}},
		{"empty file", func(t *testing.T, dir string) ([]string, string, string, string) {
			path := writeFile(t, dir, "WKSHP-API101/wod.yml", "")
			return []string{dir}, path, "", "empty"
		}},
		{"malformed YAML", func(t *testing.T, dir string) ([]string, string, string, string) {
			path := writeFile(t, dir, "WKSHP-API101/wod.yml", "name: a\n  range: [1,6]\n")
			return []string{dir}, path, "", "line 2"
		}},
		{"bad overlay of a good file", func(t *testing.T, dir string) ([]string, string, string, string) {
			public, private := filepath.Join(dir, "public"), filepath.Join(dir, "private")
			writeFile(t, public, "WKSHP-API101/wod.yml", api101)
			path := writeFile(t, private, "WKSHP-API101/wod.yml", withKey(api101, "active", "active: yes"))
			return []string{public, private}, path, "active", "true or false"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "WKSHP-Good101/wod.yml", api101) // a good one is not imported either
			dirs, path, key, word := tt.setup(t, dir)
			ws, err := Load(append([]string{dir}, dirs...))
			if ws != nil {
				t.Errorf("got workshops %s despite a bad file", slugs(ws))
			}
			checkProblem(t, err, path, key, word)
		})
	}
}

// TestLoadOverlayFixesABadFile: a public workshop's broken wod.yml, which
// the operator may not control, is fixed by the private overlay's.
func TestLoadOverlayFixesABadFile(t *testing.T) {
	public, private := t.TempDir(), t.TempDir()
	writeFile(t, public, "WKSHP-API101/wod.yml", withKey(api101, "active", "active: yes"))
	writeFile(t, public, "WKSHP-NoMeta/notes.md", "no wod.yml here")
	writeFile(t, private, "WKSHP-API101/wod.yml", api101)
	writeFile(t, private, "WKSHP-NoMeta/wod.yml", api101)
	ws, err := Load([]string{public, private})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if slugs(ws) != "WKSHP-API101,WKSHP-NoMeta" {
		t.Fatalf("workshops %s", slugs(ws))
	}
	for _, w := range ws {
		if abs, _ := filepath.Abs(private); w.ContentDir != abs {
			t.Errorf("%s comes from %s, want the overlay %s", w.Slug, w.ContentDir, abs)
		}
	}
}

func TestLoadReportsEveryBadFile(t *testing.T) {
	public, private := t.TempDir(), t.TempDir()
	writeFile(t, public, "WKSHP-Good101/wod.yml", api101)
	bad1 := writeFile(t, public, "WKSHP-Bad101/wod.yml", withKey(api101, "capacity", "capacity: -3"))
	bad2 := writeFile(t, private, "WKSHP-Bad201/wod.yml",
		withKey(withKey(api101, "duration", "duration: soon"), "name", ""))
	writeFile(t, private, "WKSHP-NoMeta/README.md", "")

	ws, err := Load([]string{public, private})
	if ws != nil {
		t.Errorf("got workshops %s despite bad files", slugs(ws))
	}
	checkProblem(t, err, bad1, "capacity", "negative")
	checkProblem(t, err, bad2, "duration", "neither")
	checkProblem(t, err, bad2, "name", "required")
	checkProblem(t, err, filepath.Join(private, "WKSHP-NoMeta"), "", "has no wod.yml")
	var e *wod.Error
	if errors.As(err, &e) && len(e.Fields) != 4 {
		t.Errorf("got %d problems, want 4: %+v", len(e.Fields), e.Fields)
	}
}

func TestLoadNothing(t *testing.T) {
	ws, err := Load([]string{t.TempDir()})
	if err != nil || len(ws) != 0 {
		t.Errorf("Load of an empty directory = %v, %v; want nothing and no error", ws, err)
	}
}
