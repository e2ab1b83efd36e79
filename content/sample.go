package content

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// sampleFiles holds the bundled sample catalogue; "all:" keeps files whose
// names start with a dot or an underscore, should a workshop ever hold one.
//
//go:embed all:sample
var sampleFiles embed.FS

// Sample is the bundled sample catalogue, our own content: a content
// directory as an fs.FS (its entries are workshop folders such as
// WKSHP-Welcome101) that `wod up` offers as the default catalogue so that a
// new installation shows a working workshop at once. It is read-only.
var Sample fs.FS = mustSub(sampleFiles, "sample")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("content: " + err.Error()) // cannot happen: dir is a valid name
	}
	return sub
}

// ExtractSample writes the sample catalogue into dst, creating it, with 0755
// directories and 0644 files, and overwriting files already there, so that
// dst can be passed to Load and deployed like any content directory. Files of
// dst that the sample does not hold are left alone.
func ExtractSample(dst string) error {
	err := fs.WalkDir(Sample, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(Sample, name)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("content: extracting the sample catalogue into %s: %w", dst, err)
	}
	return nil
}
