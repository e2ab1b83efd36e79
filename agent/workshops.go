package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/wod-dev/wod/content"
)

// ContentWorkshops deploys workshops from the agent's content directories
// (public first, private overlays after: a later folder of the same name
// wins, as at import).
type ContentWorkshops struct {
	Dirs     []string
	Renderer *content.Renderer
}

var _ Workshops = (*ContentWorkshops)(nil)

// folder returns the workshop's folder as an fs.FS that cannot be led out
// of it, with its close function.
func (c *ContentWorkshops) folder(ctx context.Context, slug string) (fs.FS, func(), error) {
	dirs := contentDirs(ctx, c.Dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		dir := filepath.Join(dirs[i], slug)
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			root, err := os.OpenRoot(dir)
			if err != nil {
				return nil, nil, err
			}
			return root.FS(), func() { root.Close() }, nil
		}
	}
	return nil, nil, fmt.Errorf("workshop %s is in none of the agent's content directories %v", slug, dirs)
}

// Deploy renders the workshop into <home>/<slug>, replacing what was there.
func (c *ContentWorkshops) Deploy(ctx context.Context, slug, home string, vars map[string]any) error {
	src, closeSrc, err := c.folder(ctx, slug)
	if err != nil {
		return err
	}
	defer closeSrc()
	root, err := os.OpenRoot(home)
	if err != nil {
		return err
	}
	err = root.RemoveAll(slug)
	root.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clear %s: %w", slug, err)
	}
	_, err = c.Renderer.Deploy(src, filepath.Join(home, slug), content.Vars(vars))
	return err
}

// Archive zips <home>/<slug> as the student (uid) left it.
func (c *ContentWorkshops) Archive(_ context.Context, slug, home string, uid int) ([]byte, error) {
	return content.Archive(home, slug, uid)
}

// Completion measures the workshop's notebooks in <home>/<slug>, reading
// only the student's (uid) own files.
func (c *ContentWorkshops) Completion(ctx context.Context, slug, home string, uid int) (int, error) {
	src, closeSrc, err := c.folder(ctx, slug)
	if err != nil {
		return 0, err
	}
	defer closeSrc()
	var nbs []string
	for _, n := range content.Notebooks(src) {
		nbs = append(nbs, path.Join(slug, n))
	}
	if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
		return 0, nil // nothing left to measure: the home is gone
	}
	return content.Completion(home, nbs, uid)
}
