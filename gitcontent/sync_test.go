package gitcontent_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

const ymlA = `name: 'Workshop A'
description: 'A'
active: true
capacity: 5
range: [1,5]
duration: 2
category: ['Beginner']
`

func notebook(text string) *string {
	return s(`{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["` + text + `"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}`)
}

// syncer follows the repositories into a real store through the
// operators' import, the one `wod workshop import` runs.
func syncer(t *testing.T, db *store.DB, clock wod.Clock, dirs []string, specs ...string) *gitcontent.Syncer {
	t.Helper()
	if err := db.CreateLocation(context.Background(), &wod.Location{Name: "local", HubURL: "http://127.0.0.1:8000", Students: 10}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ops := &operator.Service{Workshops: db, Locations: db, Events: db, Clock: clock, Logger: logger,
		ContentVars: content.Vars{}, StrictContent: true}
	base := t.TempDir()
	sy := &gitcontent.Syncer{Dirs: dirs, State: db, Clock: clock, Logger: logger,
		Import: func(ctx context.Context, dirs []string, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
			return ops.ImportContentFrom(ctx, dirs, "", repos)
		},
		Alert: func(_ context.Context, text string) (*wod.Mail, error) {
			return &wod.Mail{Kind: wod.MailAlert, To: "ops@example.org", Subject: "alert", Text: text}, nil
		}}
	for _, v := range specs {
		sp, err := gitcontent.ParseSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		sy.Repos = append(sy.Repos, gitcontent.Open(base, sp))
	}
	return sy
}

func alerts(t *testing.T, db *store.DB) []*wod.Mail {
	t.Helper()
	k := wod.MailAlert
	ms, _, err := db.FindMails(context.Background(), wod.MailFilter{Kind: &k})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestSyncRecordsTheCommitWithTheImport: the moment the new catalogue is
// committed, so is the commit it came from. An agent's job is described
// with the recorded commit; recorded after the import, a job claimed in
// between deployed the previous commit's notebooks for the new catalogue.
func TestSyncRecordsTheCommitWithTheImport(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		o := newOrigin(t)
		c1 := o.Commit("first", map[string]*string{"WKSHP-A/wod.yml": s(ymlA), "WKSHP-A/1.ipynb": notebook("one")})
		sy := syncer(t, db, clock, nil, o.FileURL()+"#main")
		importWith := sy.Import
		var seen []string // the commit recorded as each import returns
		sy.Import = func(ctx context.Context, dirs []string, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
			res, err := importWith(ctx, dirs, repos)
			saved, ferr := db.FindContentRepos(ctx)
			if ferr != nil || len(saved) != 1 {
				t.Fatalf("recorded repositories: %+v %v", saved, ferr)
			}
			seen = append(seen, saved[0].Commit)
			return res, err
		}
		if _, _, err := sy.Sync(ctx, false); err != nil {
			t.Fatal(err)
		}
		c2 := o.Commit("retitle", map[string]*string{"WKSHP-A/wod.yml": s(strings.Replace(ymlA, "Workshop A", "Workshop A, again", 1))})
		if _, _, err := sy.Sync(ctx, false); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[0] != c1 || seen[1] != c2 {
			t.Fatalf("commits recorded when the imports committed: %v, want [%s %s]", seen, c1, c2)
		}
	})
}

func TestSyncImportsNewCommitsAndKeepsTheLastGood(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		o := newOrigin(t)
		c1 := o.Commit("first", map[string]*string{"WKSHP-A/wod.yml": s(ymlA), "WKSHP-A/1.ipynb": notebook("one")})
		sy := syncer(t, db, clock, nil, o.FileURL()+"#main")

		recs, _, err := sy.Sync(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Commit != c1 || recs[0].Head != c1 || recs[0].SyncedAt == nil || recs[0].Error != "" {
			t.Fatalf("first sync: %+v", recs[0])
		}
		w, err := db.FindWorkshop(ctx, "WKSHP-A")
		if err != nil || w.Title != "Workshop A" || !strings.Contains(w.ContentDir, c1) {
			t.Fatalf("imported from the commit's directory: %+v %v", w, err)
		}

		// Nothing moved: nothing to import.
		if recs, _, err := sy.Sync(ctx, false); err != nil || recs[0].Commit != c1 {
			t.Fatalf("idle sync: %+v %v", recs, err)
		}

		// A pull of a new commit re-imports.
		c2 := o.Commit("retitle", map[string]*string{"WKSHP-A/wod.yml": s(strings.Replace(ymlA, "Workshop A", "Workshop A, second edition", 1))})
		if recs, _, err = sy.Sync(ctx, false); err != nil || recs[0].Commit != c2 {
			t.Fatalf("second sync: %+v %v", recs, err)
		}
		if w, _ := db.FindWorkshop(ctx, "WKSHP-A"); w.Title != "Workshop A, second edition" || !strings.Contains(w.ContentDir, c2) {
			t.Fatalf("re-imported: %+v", w)
		}

		// A broken commit (a notebook with an undefined variable): the
		// catalogue and the recorded commit stay, operators are alerted
		// once, the error is recorded.
		o.Commit("broken", map[string]*string{"WKSHP-A/wod.yml": s(strings.Replace(ymlA, "Workshop A", "Broken", 1)),
			"WKSHP-A/1.ipynb": notebook("{{ NOPE }}")})
		recs, _, err = sy.Sync(ctx, false)
		if err == nil || !strings.Contains(err.Error(), "NOPE") {
			t.Fatalf("broken content: %v", err)
		}
		if recs[0].Commit != c2 || !strings.Contains(recs[0].Error, "NOPE") || recs[0].ErrorAt == nil {
			t.Fatalf("state after a broken commit: %+v", recs[0])
		}
		if w, _ := db.FindWorkshop(ctx, "WKSHP-A"); w.Title != "Workshop A, second edition" || !strings.Contains(w.ContentDir, c2) {
			t.Fatalf("the last good content stays live: %+v", w)
		}
		if _, err := os.Stat(w.ContentDir); err != nil {
			t.Fatalf("the live commit's directory stays: %v", err)
		}
		if ms := alerts(t, db); len(ms) != 1 || !strings.Contains(ms[0].Text, "NOPE") || !strings.Contains(ms[0].Text, c2[:12]) {
			t.Fatalf("one alert naming the error and the live commit: %+v", ms)
		}
		if saved, _ := db.FindContentRepos(ctx); len(saved) != 1 || saved[0].Commit != c2 || saved[0].Error == "" {
			t.Fatalf("recorded: %+v", saved)
		}
		// The same failure again: no second alert.
		if _, _, err := sy.Sync(ctx, false); err == nil {
			t.Fatal("still broken")
		}
		if ms := alerts(t, db); len(ms) != 1 {
			t.Fatalf("alerted again for the same error: %d", len(ms))
		}

		// Fixed: imported, the error cleared.
		c4 := o.Commit("fixed", map[string]*string{"WKSHP-A/1.ipynb": notebook("fixed")})
		if recs, _, err = sy.Sync(ctx, false); err != nil || recs[0].Commit != c4 || recs[0].Error != "" || recs[0].ErrorAt != nil {
			t.Fatalf("fixed: %+v %v", recs, err)
		}
		if w, _ := db.FindWorkshop(ctx, "WKSHP-A"); w.Title != "Broken" {
			t.Fatalf("the fixed commit is live: %+v", w)
		}

		// A repository that cannot be fetched: the last good content stays.
		if err := os.Rename(o.Bare, o.Bare+".gone"); err != nil {
			t.Fatal(err)
		}
		recs, _, err = sy.Sync(ctx, true)
		if err == nil || recs[0].Commit != c4 || !strings.HasPrefix(recs[0].Error, "fetch: ") {
			t.Fatalf("unreachable: %+v %v", recs[0], err)
		}
		if ms := alerts(t, db); len(ms) != 2 {
			t.Fatalf("a fetch failure is alerted: %d", len(ms))
		}
		dirs, err := sy.Current(ctx)
		if err != nil || len(dirs) != 1 || !strings.HasSuffix(dirs[0], c4) {
			t.Fatalf("current content: %v %v", dirs, err)
		}
	})
}

func TestSyncOverlaysAPrivateRepositoryAndADirectory(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		pub := newOrigin(t)
		pub.Commit("public", map[string]*string{"WKSHP-A/wod.yml": s(ymlA), "WKSHP-A/1.ipynb": notebook("public")})
		priv := newOrigin(t)
		priv.Commit("private", map[string]*string{"WKSHP-A/wod.yml": s(strings.Replace(ymlA, "Workshop A", "Private A", 1)),
			"WKSHP-A/1.ipynb": notebook("private")})
		token := filepath.Join(t.TempDir(), "token")
		os.WriteFile(token, []byte("tok\n"), 0o600)
		local := t.TempDir()
		os.MkdirAll(filepath.Join(local, "WKSHP-L"), 0o755)
		os.WriteFile(filepath.Join(local, "WKSHP-L", "wod.yml"), []byte(strings.Replace(ymlA, "Workshop A", "Local", 1)), 0o644)
		sy := syncer(t, db, clock, []string{local}, pub.FileURL(), priv.ServeHTTP(t, "tok")+" token-file="+token)
		recs, _, err := sy.Sync(ctx, false)
		if err != nil || len(recs) != 2 || recs[0].Position != 0 || recs[1].Position != 1 {
			t.Fatalf("sync: %+v %v", recs, err)
		}
		if w, _ := db.FindWorkshop(ctx, "WKSHP-A"); w == nil || w.Title != "Private A" {
			t.Fatalf("the private overlay wins: %+v", w)
		}
		if w, err := db.FindWorkshop(ctx, "WKSHP-L"); err != nil || w.Title != "Local" {
			t.Fatalf("the --content directory comes after: %+v %v", w, err)
		}
		for _, r := range recs {
			if strings.Contains(r.URL, "tok") {
				t.Fatalf("a credential in the recorded URL: %s", r.URL)
			}
		}
	})
}
