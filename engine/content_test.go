package engine_test

import (
	"slices"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestAgentJobsCarryContentCommits: with content repositories, every job
// that deploys content or runs hooks names the commits the catalogue was
// imported from at the time it is claimed, and a repository not imported
// yet is not named.
func TestAgentJobsCarryContentCommits(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.eng.Content = db
		c1 := "1111111111111111111111111111111111111111"
		c2 := "2222222222222222222222222222222222222222"
		save := func(commit string) {
			t.Helper()
			if err := db.SaveContentRepos(w.ctx, []*wod.ContentRepo{
				{Key: "example.org/pub", URL: "https://example.org/pub.git", Position: 0, Commit: commit},
				{Key: "example.org/new", URL: "https://example.org/new.git", Position: 1, Error: "fetch: no"},
			}, nil); err != nil {
				t.Fatal(err)
			}
		}
		want := func(commit string) []wod.ContentCommit {
			return []wod.ContentCommit{{Key: "example.org/pub", Commit: commit}}
		}
		save(c1)
		r := w.register("WKSHP-B", "ann@example.com")
		create := w.claim(wod.JobCreate)
		if !slices.Equal(create.Content, want(c1)) {
			t.Fatalf("create: %+v", create.Content)
		}
		w.report(create, wod.AgentResult{OK: true, Password: "pw"})
		// A new import between the create and the cleanup: the cleanup
		// (its hooks, the completion's notebooks) is of the new commit.
		save(c2)
		if _, err := w.eng.EndNow(w.ctx, r.ID, "test"); err != nil {
			t.Fatal(err)
		}
		cleanup := w.claim(wod.JobCleanup)
		if !slices.Equal(cleanup.Content, want(c2)) {
			t.Fatalf("cleanup: %+v", cleanup.Content)
		}
		done := 100
		w.report(cleanup, wod.AgentResult{OK: true, Completion: &done})
		reset := w.claim(wod.JobReset)
		if !slices.Equal(reset.Content, want(c2)) {
			t.Fatalf("reset: %+v", reset.Content)
		}
	})
}
