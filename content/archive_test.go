package content

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/wod-dev/wod/testenv"
)

func TestArchive(t *testing.T) {
	home := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("not the student's"), 0o600)
	ws := filepath.Join(home, "WKSHP-X")
	for name, body := range map[string]string{
		"1-Intro.ipynb":    `{"cells":[]}`,
		"data/results.csv": "a,b\n1,2\n",
		".ipynb_checkpoints/1-Intro-checkpoint.ipynb": "{}",
		".hidden": "x",
		"big.bin": strings.Repeat("x", MaxArchive), // past the bound with the rest
	} {
		p := filepath.Join(ws, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	os.Symlink(outside, filepath.Join(ws, "link.txt"))
	os.Symlink("/etc", filepath.Join(ws, "etc"))
	os.WriteFile(filepath.Join(home, "other.txt"), []byte("not in the workshop"), 0o644)
	// What the student prepared: a FIFO (reading it would block), a link
	// inside the home, and a file of another owner moved into the folder
	// (a root-owned compiled script holds credentials).
	if err := syscall.Mkfifo(filepath.Join(ws, "pipe.ipynb"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("1-Intro.ipynb", filepath.Join(ws, "inside-link.ipynb"))
	os.WriteFile(filepath.Join(ws, "login.x"), []byte("secret credentials"), 0o711)
	if err := os.Lchown(filepath.Join(ws, "login.x"), os.Getuid()+1, os.Getgid()); err != nil {
		testenv.Missing(t, testenv.RequireRoot, "cannot give a file away (not root?): %v", err)
	}

	b, err := Archive(home, "WKSHP-X", os.Getuid())
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	contents := map[string]string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, _ := f.Open()
		c, _ := io.ReadAll(rc)
		rc.Close()
		contents[f.Name] = string(c)
	}
	slices.Sort(names)
	want := []string{"WKSHP-X/1-Intro.ipynb", "WKSHP-X/SKIPPED.txt", "WKSHP-X/data/results.csv"}
	if !slices.Equal(names, want) {
		t.Fatalf("archive holds %v, want %v", names, want)
	}
	if contents["WKSHP-X/data/results.csv"] != "a,b\n1,2\n" || !strings.Contains(contents["WKSHP-X/SKIPPED.txt"], "WKSHP-X/big.bin") {
		t.Errorf("contents: %q", contents)
	}

	if b, err := Archive(home, "WKSHP-None", os.Getuid()); b != nil || err != nil {
		t.Errorf("no folder: %d bytes, %v", len(b), err)
	}
	if b, err := Archive(filepath.Join(home, "gone"), "WKSHP-X", os.Getuid()); b != nil || err != nil {
		t.Errorf("no home: %d bytes, %v", len(b), err)
	}
	os.MkdirAll(filepath.Join(home, "WKSHP-Empty", ".ipynb_checkpoints"), 0o755)
	if b, err := Archive(home, "WKSHP-Empty", os.Getuid()); b != nil || err != nil {
		t.Errorf("empty folder: %d bytes, %v", len(b), err)
	}
}
