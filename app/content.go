package app

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/operator"
)

// contentRepos opens the --content-repo repositories once: in wod up the
// server's sync and the agent's deployments share one clone and one set of
// laid-out commits.
func (a *App) contentRepos() ([]*gitcontent.Repo, error) {
	if a.repos != nil || len(a.Config.ContentRepos) == 0 {
		return a.repos, nil
	}
	specs, err := gitcontent.ParseSpecs(a.Config.ContentRepos)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(a.Config.Data, "content", "git")
	for _, sp := range specs {
		a.repos = append(a.repos, gitcontent.Open(base, sp))
	}
	return a.repos, nil
}

// buildContentSync makes the syncer of the --content-repo repositories,
// when there are some: it imports as `wod workshop import` does and alerts
// the operators through the outbox.
func (a *App) buildContentSync() error {
	repos, err := a.contentRepos()
	if err != nil || len(repos) == 0 {
		return err
	}
	a.ContentSync = &gitcontent.Syncer{Repos: repos, Dirs: a.Config.Content, State: a.DB, Events: a.DB,
		Every: a.Config.ContentSync, Clock: a.Clock, Logger: a.Logger.With("component", "content"),
		Import: func(ctx context.Context, dirs []string, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
			return a.Operator().ImportContentFrom(ctx, dirs, a.ImportLocation, repos)
		},
		Alert: func(ctx context.Context, text string) (*wod.Mail, error) {
			return a.Engine.ComposeAlert(ctx, "", text)
		}}
	a.Engine.Content = a.DB
	return nil
}

// ImportOrWait imports the content directories at start, or, on a bare
// control plane with no location yet, leaves them waiting for the first
// one (Serve imports them then) and says so: a new site starts its server
// first and adds its locations after, from the CLI, the API or the pages.
func (a *App) ImportOrWait(ctx context.Context, dirs []string) (waiting bool, err error) {
	ls, err := a.DB.FindLocations(ctx)
	if err != nil {
		return false, err
	}
	if len(ls) > 0 {
		return false, nil
	}
	a.ContentWait = operator.NewContentWait(dirs, a.Logger.With("component", "content"))
	a.Logger.Warn("the content waits for a location: there is none yet; it is imported as soon as one is added "+
		"(wod location add NAME --hub-url URL --students N, POST /api/v1/locations)", "dirs", strings.Join(dirs, ","))
	return true, nil
}

// SyncContent runs the first sync of the content repositories, at start:
// a failure is logged and alerted, and the server serves the last good
// content (or none yet) rather than refuse to start.
func (a *App) SyncContent(ctx context.Context) {
	if a.ContentSync == nil {
		return
	}
	if _, _, err := a.ContentSync.Sync(ctx, false); err != nil {
		a.Logger.Warn("content sync failed at start: the last good content stays live", "error", err)
	}
}

// ContentHookSecret is the shared secret of the push webhook
// (/api/v1/content/hook): derived from the signing key made at first
// start, so every replica sharing the keys has it, and shown to admins on
// the workshops page, never logged.
func (a *App) ContentHookSecret() string {
	if a.Keys == nil {
		return ""
	}
	return a.Keys.Sign("content-hook", "v1")
}
