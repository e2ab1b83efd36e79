package rehearsal

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/wod-dev/wod/content"
)

// ContentNotebooks lists a workshop's notebooks from content directories
// (public first, private overlays after: the last folder of the name
// wins, as at import and deployment), in the order a participant takes
// them (lexical: 0-ReadMeFirst, 1-…), as paths relative to the student's
// home, where the agent deploys the workshop in a folder of its name.
func ContentNotebooks(dirs []string) Notebooks {
	return func(_ context.Context, slug string) ([]string, error) {
		for i := len(dirs) - 1; i >= 0; i-- {
			dir := filepath.Join(dirs[i], slug)
			if info, err := os.Stat(dir); err != nil || !info.IsDir() {
				continue
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				return nil, err
			}
			defer root.Close()
			var out []string
			for _, n := range content.Notebooks(root.FS()) {
				out = append(out, path.Join(slug, n))
			}
			return out, nil
		}
		return nil, fmt.Errorf("workshop %s is in none of the content directories %v", slug, dirs)
	}
}
