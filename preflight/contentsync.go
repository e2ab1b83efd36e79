package preflight

import (
	"context"
	"fmt"
	"time"

	"github.com/wod-dev/wod"
)

// checkContentSync says whether the catalogue follows its repositories:
// a failing sync keeps the last good content live, which nobody notices
// until a fixed notebook is still broken at the event.
func (c *Checker) checkContentSync(ctx context.Context, add addCheck) {
	if len(c.Config.ContentRepos) == 0 {
		return
	}
	repos, err := c.contentRepos(ctx)
	if err != nil {
		add("content sync", Warn, "cannot read the repositories' state: %v", err)
		return
	}
	for _, v := range contentSyncVerdicts(repos, c.now(), c.Config.ContentSync) {
		add("content sync", v.Status, "%s", v.Detail)
	}
}

func (c *Checker) contentRepos(ctx context.Context) ([]*wod.ContentRepo, error) {
	if c.ContentRepos != nil {
		return c.ContentRepos(ctx)
	}
	db := c.openDB(ctx)
	if db == nil {
		return nil, fmt.Errorf("no database with the current schema yet")
	}
	defer db.Close()
	return db.FindContentRepos(ctx)
}

// contentSyncVerdicts judges each repository: its last sync failed
// (FAIL), it has not synced for three periods (WARN), or the catalogue is
// at its head.
func contentSyncVerdicts(repos []*wod.ContentRepo, now time.Time, every time.Duration) []Check {
	if len(repos) == 0 {
		return []Check{{Name: "content sync", Status: Warn, Detail: "no repository synced yet"}}
	}
	var out []Check
	for _, r := range repos {
		switch {
		case r.Error != "":
			since := ""
			if r.ErrorAt != nil {
				since = " (" + r.ErrorAt.UTC().Format(time.RFC3339) + ")"
			}
			out = append(out, Check{Status: Fail, Detail: fmt.Sprintf("%s: the last sync failed%s, the catalogue stays at %s: %s",
				r.URL, since, short(r.Commit), r.Error)})
		case r.SyncedAt == nil:
			out = append(out, Check{Status: Warn, Detail: r.URL + ": never synced"})
		case every > 0 && now.Sub(*r.SyncedAt) > 3*every:
			out = append(out, Check{Status: Warn, Detail: fmt.Sprintf("%s: last synced %s ago (every %s): is a server running?",
				r.URL, now.Sub(*r.SyncedAt).Round(time.Minute), every)})
		case r.Commit != r.Head:
			out = append(out, Check{Status: Warn, Detail: fmt.Sprintf("%s: the catalogue is at %s, the branch at %s",
				r.URL, short(r.Commit), short(r.Head))})
		default:
			out = append(out, Check{Status: OK, Detail: fmt.Sprintf("%s: the catalogue is at the branch's head %s, synced %s",
				r.URL, short(r.Head), r.SyncedAt.UTC().Format(time.RFC3339))})
		}
	}
	for i := range out {
		out[i].Name = "content sync"
	}
	return out
}

func short(commit string) string {
	if commit == "" {
		return "(nothing imported)"
	}
	return commit[:min(12, len(commit))]
}
