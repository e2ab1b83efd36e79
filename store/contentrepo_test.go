package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestContentRepos(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		if rs, err := db.FindContentRepos(ctx); err != nil || len(rs) != 0 {
			t.Fatalf("none yet: %v %v", rs, err)
		}
		at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
		pub := &wod.ContentRepo{Key: "example.org/pub", URL: "https://example.org/pub.git", Position: 0,
			Commit: "aaaa", ImportedAt: &at, Head: "aaaa", SyncedAt: &at}
		priv := &wod.ContentRepo{Key: "example.org/priv", URL: "https://example.org/priv.git", Branch: "main",
			Position: 1, Head: "bbbb", SyncedAt: &at, Error: "WKSHP-X: undefined variable", ErrorAt: &at}
		alert := &wod.Mail{Kind: wod.MailAlert, To: "ops@example.org", Subject: "content", Text: "broken"}
		if err := db.SaveContentRepos(ctx, []*wod.ContentRepo{priv, pub}, alert); err != nil {
			t.Fatal(err)
		}
		rs, err := db.FindContentRepos(ctx)
		if err != nil || len(rs) != 2 {
			t.Fatalf("saved: %v %v", rs, err)
		}
		if rs[0].Key != pub.Key || rs[1].Key != priv.Key || rs[0].Commit != "aaaa" || !rs[0].ImportedAt.Equal(at) ||
			rs[1].Commit != "" || rs[1].Error == "" || rs[1].ErrorAt == nil || rs[1].Branch != "main" {
			t.Fatalf("read back: %+v %+v", rs[0], rs[1])
		}
		if cs := wod.ContentCommits(rs); len(cs) != 1 || cs[0] != (wod.ContentCommit{Key: pub.Key, Commit: "aaaa"}) {
			t.Fatalf("commits for agents: %+v", cs)
		}
		ms, _, err := db.FindMails(ctx, wod.MailFilter{})
		if err != nil || len(ms) != 1 || ms[0].Kind != wod.MailAlert || ms[0].Text != "broken" {
			t.Fatalf("the alert is queued with the state: %+v %v", ms, err)
		}
		// A repository no longer configured goes with the next save.
		if err := db.SaveContentRepos(ctx, []*wod.ContentRepo{pub}, nil); err != nil {
			t.Fatal(err)
		}
		if rs, err := db.FindContentRepos(ctx); err != nil || len(rs) != 1 || rs[0].Key != pub.Key {
			t.Fatalf("replaced: %v %v", rs, err)
		}
	})
}
