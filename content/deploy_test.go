package content

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wod-dev/wod"
)

func sampleVars(t *testing.T, mode wod.SessionType) Vars {
	t.Helper()
	v, err := BuildVars(Vars{"BRANDINGWOD": "ACME Labs"}, nil,
		Student{Number: 7, Password: "Secret-77x", Session: mode, Workshop: "WKSHP-Welcome101", SeatMin: 1})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDeploySample(t *testing.T) {
	src, err := fs.Sub(Sample, "WKSHP-Welcome101")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "home", "WKSHP-Welcome101")
	written, err := NewRenderer().Deploy(src, dst, sampleVars(t, wod.SessionWorkshop))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0-ReadMeFirst.ipynb", "1-WKSHP-First-Steps.ipynb", "Pictures/notebook-cells.png"}
	if !slices.Equal(written, want) {
		t.Errorf("written %q, want %q", written, want)
	}
	if _, err := os.Stat(filepath.Join(dst, MetaFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("wod.yml deployed (%v)", err)
	}
	for _, nb := range Notebooks(src) {
		data, err := os.ReadFile(filepath.Join(dst, nb))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Errorf("%s: not valid JSON", nb)
		}
		for _, s := range []string{"student7", "ACME Labs"} {
			if !bytes.Contains(data, []byte(s)) {
				t.Errorf("%s does not say %q", nb, s)
			}
		}
		for _, s := range []string{"{{ STDID", "{{ BRANDING", "{% if", "{% raw"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s still has %q", nb, s)
			}
		}
	}
	readme, _ := os.ReadFile(filepath.Join(dst, "0-ReadMeFirst.ipynb"))
	if !bytes.Contains(readme, []byte("`Secret-77x`")) || !bytes.Contains(readme, []byte("ACME Labs Workshop")) {
		t.Errorf("0-ReadMeFirst.ipynb lacks the password or the workshop title:\n%s", readme)
	}
	steps, _ := os.ReadFile(filepath.Join(dst, "1-WKSHP-First-Steps.ipynb"))
	if !bytes.Contains(steps, []byte("`{{ not a variable }}`")) {
		t.Error("the raw block of 1-WKSHP-First-Steps.ipynb is not kept as written")
	}
	pic, _ := fs.ReadFile(src, "Pictures/notebook-cells.png")
	got, err := os.ReadFile(filepath.Join(dst, "Pictures", "notebook-cells.png"))
	if err != nil || !bytes.Equal(got, pic) || !bytes.HasPrefix(got, []byte("\x89PNG")) {
		t.Errorf("the picture is not copied verbatim (%v)", err)
	}
	for name, mode := range map[string]fs.FileMode{".": 0o755, "Pictures": 0o755, "0-ReadMeFirst.ipynb": 0o644,
		"Pictures/notebook-cells.png": 0o644} {
		info, err := os.Stat(filepath.Join(dst, name))
		if err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", name, info.Mode().Perm(), err, mode)
		}
	}
}

func TestDeployChallenge(t *testing.T) {
	src, _ := fs.Sub(Sample, "WKSHP-Welcome101")
	dst := t.TempDir()
	if _, err := NewRenderer().Deploy(src, dst, sampleVars(t, wod.SessionChallenge)); err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile(filepath.Join(dst, "0-ReadMeFirst.ipynb"))
	if !bytes.Contains(readme, []byte("ACME Labs Challenge")) || !bytes.Contains(readme, []byte("this challenge!")) {
		t.Errorf("the challenge text is missing:\n%s", readme)
	}
}

// TestDeployConfined: links in the source are not followed, links in the
// destination are not written through.
func TestDeployConfined(t *testing.T) {
	tmp := t.TempDir()
	secret := filepath.Join(tmp, "secret.txt")
	mustWrite(t, secret, "do not copy")
	victimDir := filepath.Join(tmp, "victim")
	if err := os.Mkdir(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	victimFile := filepath.Join(tmp, "victim.ipynb")
	mustWrite(t, victimFile, "untouched")

	src := filepath.Join(tmp, "WKSHP-Links")
	mustWrite(t, filepath.Join(src, "0-ReadMeFirst.ipynb"), `{"cells": [], "s": "{{ STDID }}"}`)
	mustWrite(t, filepath.Join(src, "Pictures", "a.png"), "png")
	mustWrite(t, filepath.Join(src, ".ipynb_checkpoints", "0-ReadMeFirst-checkpoint.ipynb"), `{{ NOPE }}`)
	mustWrite(t, filepath.Join(src, MetaFile), "name: x")
	mustSymlink(t, secret, filepath.Join(src, "leak.txt"))
	mustSymlink(t, secret, filepath.Join(src, "leak.sh"))
	mustSymlink(t, tmp, filepath.Join(src, "up"))
	mustSymlink(t, "0-ReadMeFirst.ipynb", filepath.Join(src, "inside.ipynb"))

	dst := filepath.Join(tmp, "home", "WKSHP-Links")
	mustSymlink(t, victimFile, filepath.Join(dst, "0-ReadMeFirst.ipynb"))
	vars := Vars{"STDID": "5"}

	for _, tc := range []struct {
		name string
		fsys func() fs.FS
	}{
		{"os.DirFS", func() fs.FS { return os.DirFS(src) }},
		{"os.Root", func() fs.FS {
			root, err := os.OpenRoot(src)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { root.Close() })
			return root.FS()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			written, err := NewRenderer().Deploy(tc.fsys(), dst, vars)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"0-ReadMeFirst.ipynb", "Pictures/a.png"}; !slices.Equal(written, want) {
				t.Errorf("written %q, want %q", written, want)
			}
			if b, _ := os.ReadFile(victimFile); string(b) != "untouched" {
				t.Errorf("wrote through a link of the destination: %q", b)
			}
			if info, err := os.Lstat(filepath.Join(dst, "0-ReadMeFirst.ipynb")); err != nil || !info.Mode().IsRegular() {
				t.Errorf("the link in the destination is not replaced by a file (%v)", err)
			}
			entries, _ := os.ReadDir(dst)
			for _, e := range entries {
				if n := e.Name(); n == "leak.txt" || n == "leak.sh" || n == "up" || n == "inside.ipynb" || n == MetaFile {
					t.Errorf("%s deployed", n)
				}
			}
			if _, err := os.Stat(filepath.Join(dst, ".ipynb_checkpoints", "0-ReadMeFirst-checkpoint.ipynb")); err == nil {
				t.Error("a checkpoint notebook is deployed")
			}
		})
	}

	// A directory of the destination that is a link out of it.
	dst2 := filepath.Join(tmp, "home2")
	mustSymlink(t, victimDir, filepath.Join(dst2, "Pictures"))
	if _, err := NewRenderer().Deploy(os.DirFS(src), dst2, vars); err == nil {
		t.Error("deployed through a link to a directory out of the destination")
	}
	if entries, _ := os.ReadDir(victimDir); len(entries) != 0 {
		t.Errorf("wrote out of the destination: %v", entries)
	}

	// The destination itself replaced by a link out of its parent (a
	// student's home).
	dst3 := filepath.Join(tmp, "home3", "WKSHP-Links")
	mustSymlink(t, victimDir, dst3)
	if _, err := NewRenderer().Deploy(os.DirFS(src), dst3, vars); err == nil {
		t.Error("deployed through a destination that is a link out of its parent")
	}
	if entries, _ := os.ReadDir(victimDir); len(entries) != 0 {
		t.Errorf("wrote out of the destination's parent: %v", entries)
	}
}

// TestDeployTemplateErrors: every broken file is reported, nothing is written.
func TestDeployTemplateErrors(t *testing.T) {
	src := fstest.MapFS{
		"0-ReadMeFirst.ipynb": {Data: []byte("{\n\"a\": \"{{ HTTPPORT }}\"\n}")},
		"Data/env.sh":         {Data: []byte("export KEY={{ LLM101_API_KEY }}\n")},
		"notes.txt":           {Data: []byte("{{ not a template }}")},
	}
	dst := filepath.Join(t.TempDir(), "out")
	written, err := NewRenderer().Deploy(src, dst, Vars{"WORKSHOP": "WKSHP-LLM101"})
	if err == nil {
		t.Fatalf("no error; wrote %v", written)
	}
	for _, want := range []string{
		`WKSHP-LLM101/0-ReadMeFirst.ipynb:2:10: undefined variable "HTTPPORT"`,
		`WKSHP-LLM101/Data/env.sh:1:15: undefined variable "LLM101_API_KEY"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the destination was created (%v)", err)
	}
}

func mustWrite(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
