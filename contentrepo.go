package wod

import (
	"context"
	"time"
)

// ContentRepo is one git repository of workshop content the server follows
// (--content-repo), public first and private overlays after, with what
// became of its last sync. Its Commit is the one the catalogue was imported
// from: agents deploy that commit and no other, so that a participant never
// gets notebooks the import did not check.
type ContentRepo struct {
	// Key names the repository whatever the URL's form (host and path,
	// lower case, without ".git"): the server's and an agent's URLs for
	// one repository may differ in scheme or user.
	Key      string `json:"key"`
	URL      string `json:"url" doc:"The repository's URL, without credentials"`
	Branch   string `json:"branch,omitempty" doc:"The branch followed; empty: the remote's default"`
	Position int    `json:"position" doc:"Order of the overlays: a later repository overrides an earlier one"`
	// Commit is the commit the live catalogue was imported from; empty
	// until a first import succeeds.
	Commit     string     `json:"commit,omitempty" doc:"The commit the live catalogue was imported from"`
	ImportedAt *time.Time `json:"imported_at,omitempty"`
	// Head is the branch's commit at the last fetch, imported or not.
	Head     string     `json:"head,omitempty" doc:"The branch's commit at the last successful fetch"`
	SyncedAt *time.Time `json:"synced_at,omitempty" doc:"When the repository was last fetched successfully"`
	// Error is why the last sync failed (a fetch, or content the import
	// refused); empty after a sync that imported.
	Error   string     `json:"error,omitempty" doc:"Why the last sync failed; the last good content stays live"`
	ErrorAt *time.Time `json:"error_at,omitempty"`
}

// ContentCommit names a repository's commit for an agent: deploy content
// from this commit of this repository (matched by Key).
type ContentCommit struct {
	Key    string `json:"key" doc:"The repository, as host/path"`
	Commit string `json:"commit" doc:"The commit the server imported"`
}

// ContentRepoService keeps the state of the content repositories.
type ContentRepoService interface {
	// FindContentRepos lists the repositories in overlay order.
	FindContentRepos(ctx context.Context) ([]*ContentRepo, error)
	// SaveContentRepos replaces the recorded repositories with repos and
	// queues alert, when not nil, in the same transaction.
	SaveContentRepos(ctx context.Context, repos []*ContentRepo, alert *Mail) error
}

// ContentCommits are the commits agents deploy: those of the repositories
// that have been imported, in overlay order.
func ContentCommits(repos []*ContentRepo) []ContentCommit {
	var out []ContentCommit
	for _, r := range repos {
		if r.Commit != "" {
			out = append(out, ContentCommit{Key: r.Key, Commit: r.Commit})
		}
	}
	return out
}
