package gitcontent

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// Source gives an agent the content directories of a job: each
// repository at the commit the server imported (the job's content
// commits), then the plain Dirs. Without repositories it is Dirs alone,
// whatever the job says: an agent given a path deploys what is there.
type Source struct {
	Repos []*Repo
	Dirs  []string
}

// ContentDirs lays out (fetching if needed) each repository at the commit
// the server named for it. A repository the server named no commit for is
// an error, not a fallback to its head: the catalogue has not seen that.
func (s *Source) ContentDirs(ctx context.Context, commits []wod.ContentCommit) ([]string, error) {
	if len(s.Repos) == 0 {
		return s.Dirs, nil
	}
	byKey := map[string]string{}
	for _, c := range commits {
		byKey[c.Key] = c.Commit
	}
	dirs := make([]string, 0, len(s.Repos)+len(s.Dirs))
	for _, r := range s.Repos {
		commit := byKey[r.Spec.Key()]
		if commit == "" {
			return nil, fmt.Errorf("the server has imported no commit of %s (key %s): is it configured with the same --content-repo, and did its import succeed?",
				r.Spec.Display(), r.Spec.Key())
		}
		d, err := r.Tree(ctx, commit)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
	}
	return append(dirs, s.Dirs...), nil
}
