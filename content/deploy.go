package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// templatedPatterns are the names the original's copy_folder.yml templates
// (reference §4.5): its `find` patterns, matched against the base name at
// any depth. The original's private tree leaves out *.tf and *.env; wod has
// one list for every content directory.
var templatedPatterns = []string{"*.ipynb", "*.yaml", "*.py", "*.sh", "*.src", "*.tf", "*.env", "Variables.ps1"}

// Templated reports whether the file at name (a slash path inside a workshop
// folder) is rendered as a template when deployed; other files are copied
// as they are.
func Templated(name string) bool {
	base := path.Base(name)
	for _, p := range templatedPatterns {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// deployed reports whether a regular file of the workshop folder is
// deployed at all. The folder's wod.yml is catalogue metadata. Jupyter's
// checkpoint copies (*-checkpoint.ipynb) are not deployed: the original's
// find leaves them out of templating and its rsync leaves every *.ipynb to
// the templating, so they never reach the student.
func deployed(name string) bool {
	return name != MetaFile && !strings.HasSuffix(path.Base(name), "-checkpoint.ipynb")
}

// Deploy renders or copies the workshop folder src (an fs.FS rooted at the
// WKSHP-* folder; os.Root.FS is best, as it cannot be led out of the folder)
// into the directory dst, created if needed, and returns the files written,
// as slash paths relative to dst, in lexical order.
//
//   - Templated files are rendered with vars (RenderFile); every other file is
//     copied byte for byte. The folder's wod.yml and checkpoint notebooks are
//     not deployed.
//   - Everything is rendered before anything is written: a template error
//     leaves dst as it was. All the template errors are returned, joined.
//   - Symbolic links in src are skipped, wherever they point: the original's
//     rsync would copy a link that could lead a student anywhere. Other
//     special files are skipped too.
//   - Writes go through an os.Root on dst, so no name can land outside it; a
//     file or link already at a file's place is replaced, not written
//     through. dst is opened through its parent, which is trusted: a link
//     put in dst's place that leads out of the parent is refused.
//   - Files get mode 0644 and directories 0755, whatever the umask.
//     Ownership is the caller's business, and so is clearing dst first (the
//     original deletes the student's copy of the workshop before deploying).
//
// Errors name the file as "<WORKSHOP>/<name>" when vars has WORKSHOP.
func (r *Renderer) Deploy(src fs.FS, dst string, vars Vars) ([]string, error) {
	plan, err := r.plan(src, vars)
	if err != nil {
		return nil, err
	}
	root, err := openDest(dst)
	if err != nil {
		return nil, fmt.Errorf("content: deploy: %w", err)
	}
	defer root.Close()
	var written []string
	for _, it := range plan {
		if err := it.write(root, src); err != nil {
			return written, fmt.Errorf("content: deploy %s into %s: %w", it.name, dst, err)
		}
		if !it.dir {
			written = append(written, it.name)
		}
	}
	return written, nil
}

// openDest creates dst if needed and opens it as a root. dst itself is
// created and opened through its parent's root: in a student's home, dst
// may be replaced by a link to anywhere between two steps, and a root
// refuses to follow a link out of the parent. The parent is trusted.
func openDest(dst string) (*os.Root, error) {
	dst = filepath.Clean(dst)
	parent, base := filepath.Split(dst)
	if base == "" || base == "." || base == ".." {
		return nil, fmt.Errorf("%q: not a directory name", dst)
	}
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	pr, err := os.OpenRoot(parent)
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	if err := pr.Mkdir(base, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return pr.OpenRoot(base)
}

// item is one entry of a deployment: a directory, a rendered file or a file
// copied from the source.
type item struct {
	name     string
	dir      bool
	rendered bool
	data     []byte // the rendered text
}

// plan walks src, renders its templates and lists what to write.
func (r *Renderer) plan(src fs.FS, vars Vars) ([]item, error) {
	prefix, _ := vars["WORKSHOP"].(string)
	var plan []item
	var errs []error
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			plan = append(plan, item{name: name, dir: true})
			return nil
		case !d.Type().IsRegular() || !deployed(name):
			return nil // symbolic links and other special files are never followed
		case !Templated(name):
			plan = append(plan, item{name: name})
			return nil
		}
		text, err := fs.ReadFile(src, name)
		if err != nil {
			return err
		}
		out, err := r.RenderFile(path.Join(prefix, name), text, vars)
		if err != nil {
			errs = append(errs, err)
			return nil // go on, to report every broken file at once
		}
		plan = append(plan, item{name: name, rendered: true, data: out})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("content: reading the workshop folder: %w", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plan, nil
}

// write creates the item under root.
func (it item) write(root *os.Root, src fs.FS) error {
	name := filepath.FromSlash(it.name)
	if it.dir {
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		return root.Chmod(name, 0o755)
	}
	// Replace whatever is there (a link above all) rather than write through it.
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := it.fill(f, src); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return root.Chmod(name, 0o644) // the umask may have taken bits off
}

// fill writes the item's content: rendered text, or the source file.
func (it item) fill(w io.Writer, src fs.FS) error {
	if it.rendered {
		_, err := w.Write(it.data)
		return err
	}
	in, err := src.Open(it.name)
	if err != nil {
		return err
	}
	defer in.Close()
	if info, err := in.Stat(); err != nil {
		return err
	} else if !info.Mode().IsRegular() {
		return fmt.Errorf("no longer a regular file")
	}
	_, err = io.Copy(w, in)
	return err
}
