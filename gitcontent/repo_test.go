package gitcontent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wod-dev/wod/gitcontent"
)

func TestCloneFetchAndLayOut(t *testing.T) {
	o := newOrigin(t)
	first := o.Commit("first", map[string]*string{
		"WKSHP-A/1-Intro.ipynb":     s(`{"cells": []}`),
		"scripts/create-WKSHP-A.sh": s("#!/bin/sh\necho hi\n"),
	})
	if err := os.Symlink("/etc/passwd", filepath.Join(o.Work(), "WKSHP-A", "passwd")); err != nil {
		t.Fatal(err)
	}
	first = o.Commit("a link", nil)
	ctx := context.Background()
	spec, err := gitcontent.ParseSpec(o.FileURL())
	if err != nil {
		t.Fatal(err)
	}
	r := gitcontent.Open(t.TempDir(), spec)
	head, err := r.Fetch(ctx)
	if err != nil || head != first {
		t.Fatalf("clone: head %s (want %s) %v", head, first, err)
	}
	dir, err := r.Tree(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "WKSHP-A", "1-Intro.ipynb")); err != nil || string(b) != `{"cells": []}` {
		t.Fatalf("laid out notebook: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "scripts", "create-WKSHP-A.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("a hook stays executable: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "WKSHP-A", "passwd")); !os.IsNotExist(err) {
		t.Fatalf("a symbolic link of the repository is not laid out: %v", err)
	}

	// A new commit: the fetch sees it, the old commit's directory stays.
	second := o.Commit("second", map[string]*string{"WKSHP-A/1-Intro.ipynb": s(`{"cells": [1]}`)})
	if head, err = r.Fetch(ctx); err != nil || head != second {
		t.Fatalf("fetch: %s (want %s) %v", head, second, err)
	}
	dir2, err := r.Tree(ctx, second)
	if err != nil || dir2 == dir {
		t.Fatalf("second tree %s %v", dir2, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "WKSHP-A", "1-Intro.ipynb")); string(b) != `{"cells": []}` {
		t.Fatalf("the first commit's directory changed: %q", b)
	}
	if err := r.Prune(second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("pruned: %v", err)
	}
	// A pruned commit is laid out again on demand (an agent's late job).
	if d, err := r.Tree(ctx, first); err != nil || d != dir {
		t.Fatalf("again: %s %v", d, err)
	}
	if _, err := r.Tree(ctx, "../../etc"); err == nil {
		t.Fatal("a name that is not a commit hash is refused")
	}
}

func TestFetchOnDemandForAnAgent(t *testing.T) {
	o := newOrigin(t)
	o.Commit("first", map[string]*string{"WKSHP-A/wod.yml": s("x")})
	ctx := context.Background()
	spec, _ := gitcontent.ParseSpec(o.FileURL() + "#main")
	r := gitcontent.Open(t.TempDir(), spec)
	if _, err := r.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	// The server imported a commit this agent has not fetched yet.
	later := o.Commit("later", map[string]*string{"WKSHP-A/new.txt": s("new")})
	dir, err := r.Tree(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "WKSHP-A", "new.txt")); err != nil || string(b) != "new" {
		t.Fatalf("fetched on demand: %q %v", b, err)
	}
}

func TestPrivateRepoWithTokenOverHTTP(t *testing.T) {
	o := newOrigin(t)
	head := o.Commit("first", map[string]*string{"WKSHP-P/wod.yml": s("private")})
	url := o.ServeHTTP(t, "s3cret-token")
	ctx := context.Background()
	dir := t.TempDir()

	spec, err := gitcontent.ParseSpec(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gitcontent.Open(dir, spec).Fetch(ctx); err == nil {
		t.Fatal("a private repository without its token")
	}
	bad := filepath.Join(dir, "bad-token")
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	spec, _ = gitcontent.ParseSpec(url + " token-file=" + bad)
	_, err = gitcontent.Open(dir, spec).Fetch(ctx)
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("a wrong token fails without showing it: %v", err)
	}
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("s3cret-token\n"), 0o600)
	spec, err = gitcontent.ParseSpec(url + "#main token-file=" + good)
	if err != nil {
		t.Fatal(err)
	}
	r := gitcontent.Open(dir, spec)
	got, err := r.Fetch(ctx)
	if err != nil || got != head {
		t.Fatalf("with the token: %s %v", got, err)
	}
	tree, err := r.Tree(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "WKSHP-P", "wod.yml")); string(b) != "private" {
		t.Fatalf("laid out: %q", b)
	}
	// wod check's probe: the branch's commit, nothing written.
	if got, err := gitcontent.Reachable(ctx, spec); err != nil || got != head {
		t.Fatalf("reachable: %s %v", got, err)
	}
	badSpec, _ := gitcontent.ParseSpec(url + " token-file=" + bad)
	if _, err := gitcontent.Reachable(ctx, badSpec); err == nil {
		t.Fatal("reachable with a wrong token")
	}
	// The default branch, asked of the remote.
	spec, _ = gitcontent.ParseSpec(url + " token-file=" + good)
	if got, err := gitcontent.Open(t.TempDir(), spec).Fetch(ctx); err != nil || got != head {
		t.Fatalf("default branch: %s %v", got, err)
	}
	if got, err := gitcontent.Reachable(ctx, spec); err != nil || got != head {
		t.Fatalf("reachable, default branch: %s %v", got, err)
	}
}

func TestParseSpec(t *testing.T) {
	for _, c := range []struct{ in, key, err string }{
		{in: "https://github.com/Acme/wod-notebooks.git#main", key: "github.com/acme/wod-notebooks#main"},
		{in: "git@github.com:Acme/wod-notebooks.git#main ssh-key=/k", key: "github.com/acme/wod-notebooks#main"},
		{in: "ssh://git@github.com/Acme/wod-notebooks#main", key: "github.com/acme/wod-notebooks#main"},
		{in: "/srv/content.git", key: "/srv/content"},
		{in: "file:///srv/content.git", key: "/srv/content"},
		{in: "https://u:pw@example.org/x.git", err: "password"},
		{in: "http://example.org/x.git token-file=/t", err: "https"},
		{in: "http://127.0.0.1:9/x.git token-file=/t", key: "127.0.0.1/x"},
		{in: "https://example.org/x.git ssh-key=/k", err: "token-file"},
		{in: "https://example.org/x.git password=/k", err: "unknown option"},
		{in: "https://example.org/x.git#a..b", err: "branch"},
		{in: "relative/dir", err: "unsupported"},
	} {
		sp, err := gitcontent.ParseSpec(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: want an error with %q, got %v", c.in, c.err, err)
			}
			continue
		}
		if err != nil || sp.Key() != c.key {
			t.Errorf("%q: key %q (want %q) %v", c.in, sp.Key(), c.key, err)
		}
	}
	if _, err := gitcontent.ParseSpecs([]string{"https://github.com/a/b", "git@github.com:a/b.git"}); err == nil {
		t.Error("one repository twice")
	}
}

// TestSharedClone: wod up's server fetches while its agent lays commits
// out from the same clone; every reader gets the complete commit.
func TestSharedClone(t *testing.T) {
	o := newOrigin(t)
	first := o.Commit("first", map[string]*string{"WKSHP-A/wod.yml": s("one"), "WKSHP-A/data/big.txt": s(strings.Repeat("x", 1<<20))})
	ctx := context.Background()
	spec, _ := gitcontent.ParseSpec(o.FileURL())
	r := gitcontent.Open(t.TempDir(), spec)
	if _, err := r.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	second := o.Commit("second", map[string]*string{"WKSHP-A/wod.yml": s("two")})
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			commit, want := first, "one"
			if i%2 == 1 {
				commit, want = second, "two"
			}
			if i%4 == 0 {
				if _, err := r.Fetch(ctx); err != nil {
					errs <- err
					return
				}
			}
			dir, err := r.Tree(ctx, commit)
			if err != nil {
				errs <- err
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, "WKSHP-A", "wod.yml"))
			if err == nil && string(b) != want {
				err = fmt.Errorf("%s: %q, want %q", commit, b, want)
			}
			if fi, serr := os.Stat(filepath.Join(dir, "WKSHP-A", "data", "big.txt")); err == nil && (serr != nil || fi.Size() != 1<<20) {
				err = fmt.Errorf("%s: a partial commit: %v %v", commit, fi, serr)
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
