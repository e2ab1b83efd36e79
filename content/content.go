// Package content reads workshop content laid out the way the original
// Workshops-on-Demand lays it out: content directories holding one folder per
// workshop (WKSHP-API101, …), each with a wod.yml of catalogue metadata next
// to its notebooks. It turns them into workshops ready for
// wod.WorkshopService.ImportWorkshops, and bundles a small sample catalogue.
//
// It also renders a workshop folder for one student with the original's
// Ansible/Jinja2 semantics (Renderer, Vars, BuildVars), checks that content
// renders for a sample student before anyone waits for it (Check,
// CheckWorkshop), and measures how much of a workshop a student ran
// (Completion, Notebooks).
package content

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wod-dev/wod"
)

// FolderPrefix starts the name of every workshop folder. Other folders of a
// content directory (scripts, ansible, …) are not workshops.
const FolderPrefix = "WKSHP-"

// MetaFile is the name of a workshop's metadata file inside its folder.
const MetaFile = "wod.yml"

// Load reads the workshop folders of dirs, in order; a later directory (a
// private overlay) overrides a workshop folder of the same name from an
// earlier one: the whole wod.yml of the later one wins and its directory is
// recorded as ContentDir (made absolute, so that the record does not depend on
// the importer's working directory). Folders not starting with FolderPrefix are
// ignored; a workshop folder without wod.yml is an error.
//
// Every wod.yml that is used is checked, and every problem of every file is
// reported in one EINVALID *wod.Error whose Fields name the file, the key and
// the problem. When any file is bad, Load returns no workshop at all, so that
// an import is all or nothing. A file an overlay shadows is not used, so its
// problems do not count: an overlay is how an operator fixes a public
// workshop they do not control. I/O failures other than a missing file are
// returned as they are, wrapped. The result is sorted by slug.
func Load(dirs []string) ([]*wod.Workshop, error) {
	var p problems
	bySlug := make(map[string]folder)
	for _, dir := range dirs {
		folders, err := loadDir(dir, &p)
		if err != nil {
			return nil, err
		}
		for _, f := range folders {
			bySlug[f.slug] = f // a later directory overrides an earlier one
		}
	}
	ws := make([]*wod.Workshop, 0, len(bySlug))
	for _, slug := range slices.Sorted(maps.Keys(bySlug)) {
		f := bySlug[slug]
		p.fields = append(p.fields, f.problems.fields...)
		if f.workshop != nil {
			ws = append(ws, f.workshop)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return ws, nil
}

// folder is one workshop folder of a content directory: its workshop, or
// the problems of its wod.yml.
type folder struct {
	slug     string
	workshop *wod.Workshop
	problems problems
}

// loadDir parses the workshop folders of one content directory, recording
// the directory's own problems in p and returning I/O failures.
func loadDir(dir string, p *problems) ([]folder, error) {
	dir = filepath.Clean(dir)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.add(dir, "", "content directory does not exist")
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("content: %w", err)
	case !info.IsDir():
		p.add(dir, "", "is not a directory (a content directory holds WKSHP-* folders)")
		return nil, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("content: locating %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("content: reading the content directory: %w", err)
	}
	var folders []folder
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), FolderPrefix) {
			continue
		}
		dirPath := filepath.Join(dir, e.Name())
		if ok, err := isDir(dirPath, e); err != nil {
			return nil, fmt.Errorf("content: %w", err)
		} else if !ok {
			continue // a file such as WKSHP-notes.txt is not a workshop folder
		}
		f := folder{slug: e.Name()}
		path := filepath.Join(dirPath, MetaFile)
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.problems.add(dirPath, "", "has no %s", MetaFile)
		case err != nil:
			return nil, fmt.Errorf("content: %w", err)
		default:
			if w := parseWorkshop(path, e.Name(), data, &f.problems); w != nil {
				w.ContentDir = abs
				if w.ContentVersion, err = folderVersion(dirPath); err != nil {
					return nil, err
				}
				f.workshop = w
			}
		}
		folders = append(folders, f)
	}
	return folders, nil
}

// isDir reports whether the entry is a directory, following a symbolic link
// (content trees are sometimes assembled from links to checked-out repos).
func isDir(path string, e fs.DirEntry) (bool, error) {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.IsDir(), nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return info.IsDir(), nil
}
