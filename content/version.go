package content

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// folderVersion is a digest of a workshop folder (every regular file's
// path, mode and content): the content version a warm seat is made from
// (wod.Workshop.ContentVersion). A re-import that changes a notebook, not
// only wod.yml, changes it, and the warm seats made before are rebuilt.
func folderVersion(dir string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	h := sha256.New()
	err = fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := root.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", filepath.ToSlash(path), info.Mode().Perm(), info.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("content: version of %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
