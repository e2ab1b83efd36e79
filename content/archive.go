package content

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// MaxArchive bounds the files Archive takes from one student's workshop
// folder, uncompressed: notebooks and the files a participant makes in a
// workshop are kilobytes to a few megabytes; a dataset someone downloaded
// is not theirs to keep.
const MaxArchive = 16 << 20

// Archive zips the workshop folder <home>/<slug> as the student left it,
// for them to download after the end: regular files only (a symbolic link
// is left out, never followed), no hidden files or folders (checkpoints,
// caches), files in lexical order until MaxArchive; a file past it is left
// out and listed in a SKIPPED.txt of the archive. Nil when there is nothing
// to keep (no folder, no file). The student prepared the folder: only
// regular files owned by uid, reached without a link, are read, and never
// with an open that could block (see openStudentFile); a root-owned file
// moved into the folder (a compiled script holding credentials) stays out.
func Archive(home, slug string, uid int) ([]byte, error) {
	root, err := os.OpenRoot(home)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("content: archive: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	if fi, err := fs.Stat(fsys, slug); err != nil || !fi.IsDir() {
		return nil, nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var total int64
	var skipped []string
	files := 0
	err = fs.WalkDir(fsys, slug, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // keep what can be read
		}
		if name != slug && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, fi, err := openStudentFile(root, name, uid)
		if err != nil {
			return nil
		}
		defer f.Close()
		if total+fi.Size() > MaxArchive {
			skipped = append(skipped, fmt.Sprintf("%s (%d bytes)", name, fi.Size()))
			return nil
		}
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fi.ModTime()}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		n, err := io.Copy(w, io.LimitReader(f, fi.Size()))
		if err != nil {
			return err
		}
		total += n
		files++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("content: archive: %w", err)
	}
	if len(skipped) > 0 {
		w, err := zw.Create(path.Join(slug, "SKIPPED.txt"))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "These files were too large to keep (the archive keeps %d MB):\n%s\n", MaxArchive>>20, strings.Join(skipped, "\n"))
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("content: archive: %w", err)
	}
	if files == 0 && len(skipped) == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}
