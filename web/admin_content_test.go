package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/gitcontent/gittest"
)

const contentYML = `name: 'From git'
description: 'A'
active: true
capacity: 5
range: [1,5]
duration: 2
`

// TestAdminWorkshopsShowsContentRepos: with content repositories the
// workshops page shows each one's live commit, when it was fetched and the
// last error; the Sync content button syncs; the webhook's secret is for
// admins only.
func TestAdminWorkshopsShowsContentRepos(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s *site) {
		o := gittest.New(t)
		good := o.Commit("good", map[string]*string{"WKSHP-Git/wod.yml": gittest.Text(contentYML)})
		spec, err := gitcontent.ParseSpec(o.FileURL() + "#main")
		if err != nil {
			t.Fatal(err)
		}
		sy := &gitcontent.Syncer{Repos: []*gitcontent.Repo{gitcontent.Open(t.TempDir(), spec)}, State: s.db, Events: s.db,
			Clock: s.clock, Logger: s.ops.Logger,
			Import: func(ctx context.Context, dirs []string, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
				return s.ops.ImportContentFrom(ctx, dirs, "", repos)
			}}
		s.ops.ContentSync, s.ops.ContentRepos, s.ops.ContentVars, s.ops.StrictContent = sy, s.db, content.Vars{}, true
		s.pages.ContentHookURL, s.pages.ContentHookSecret = "http://wod.test/api/v1/content/hook", "hook-secret-for-admins"
		if _, _, err := sy.Sync(s.ctx, false); err != nil {
			t.Fatal(err)
		}
		s.operator("mod", wod.RoleModerator, "moderator-password")
		s.operator("root", wod.RoleAdmin, "admin-password-1")

		s.login("mod", "moderator-password")
		code, page := s.get("/admin/workshops")
		if code != http.StatusOK {
			t.Fatalf("workshops page: %d", code)
		}
		mustShow(t, "the repositories for a moderator", page, "Content repositories", o.FileURL(), good[:12],
			"/api/v1/content/hook", "an admin sees its secret here")
		if strings.Contains(page, "hook-secret-for-admins") {
			t.Fatal("a moderator sees the webhook's secret")
		}
		s.post("/admin/logout", url.Values{"csrf": {s.csrf("/admin/workshops")}})

		s.login("root", "admin-password-1")
		o.Commit("broken", map[string]*string{"WKSHP-Git/1.ipynb": gittest.Text(`{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["{{ NOPE }}"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`)})
		res, page := s.post("/admin/import", url.Values{"csrf": {s.csrf("/admin/workshops")}})
		page = html.UnescapeString(s.afterAction(res, page))
		mustShow(t, "a failed sync", page, "Not done", "NOPE", "the live commit stays", good[:12], "Sync content",
			`id="content-hook-secret">hook-secret-for-admins<`)
		fixed := o.Commit("fixed", map[string]*string{"WKSHP-Git/1.ipynb": nil})
		res, page = s.post("/admin/import", url.Values{"csrf": {s.csrf("/admin/workshops")}})
		page = s.afterAction(res, page)
		mustShow(t, "a sync", page, fixed[:12])
		if strings.Contains(page, "NOPE") {
			t.Fatalf("the error stays after a good sync:\n%s", page)
		}
	})
}
