package gitcontent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Repo is the local copy of one content repository: a bare clone in
// <dir>/repo.git and one directory per commit laid out, <dir>/at/<commit>.
// A laid-out commit is written once, into a temporary directory renamed
// into place, and never changed: imports and deployments read it while
// the next commit is fetched. Its methods are safe for concurrent use (wod
// up's server and agent share one Repo).
type Repo struct {
	Spec Spec
	dir  string
	mu   sync.Mutex
}

// Open returns the Repo of spec under base (<data>/content/git), made on
// first use.
func Open(base string, spec Spec) *Repo {
	sum := sha256.Sum256([]byte(spec.Key()))
	name := strings.Trim(nameChars.ReplaceAllString(filepath.Base(spec.Key()), "-"), "-.")
	if name == "" {
		name = "repo"
	}
	return &Repo{Spec: spec, dir: filepath.Join(base, name+"-"+hex.EncodeToString(sum[:6]))}
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Fetch clones the repository on first use, else fetches it, and returns
// the commit of the followed branch.
func (r *Repo) Fetch(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetch(ctx)
}

func (r *Repo) fetch(ctx context.Context) (string, error) {
	repo, err := r.open()
	if err != nil {
		return "", err
	}
	auth, err := r.auth()
	if err != nil {
		return "", err
	}
	branch := r.Spec.Branch
	if branch == "" {
		if branch, err = r.defaultBranch(ctx, repo, auth); err != nil {
			return "", err
		}
	}
	local := plumbing.NewRemoteReferenceName("origin", branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), local))
	err = repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec},
		Auth: auth, Force: true, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetching %s: %w", r.Spec.Display(), err)
	}
	ref, err := repo.Reference(local, true)
	if err != nil {
		return "", fmt.Errorf("%s: branch %s: %w", r.Spec.Display(), branch, err)
	}
	return ref.Hash().String(), nil
}

// open opens the bare clone, making it on first use.
func (r *Repo) open() (*git.Repository, error) {
	path := filepath.Join(r.dir, "repo.git")
	repo, err := git.PlainOpen(path)
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("opening the clone of %s: %w", r.Spec.Display(), err)
	}
	// Private overlays may hold secrets: only the owner (root, or the
	// server's user) reads the copies.
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("content repository: %w", err)
	}
	os.RemoveAll(path) // a clone a crash left half made
	repo, err = git.PlainInit(path, true)
	if err != nil {
		return nil, fmt.Errorf("making the clone of %s: %w", r.Spec.Display(), err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.Spec.URL}}); err != nil {
		return nil, fmt.Errorf("making the clone of %s: %w", r.Spec.Display(), err)
	}
	return repo, nil
}

// defaultBranch asks the remote which branch its HEAD is.
func (r *Repo) defaultBranch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) (string, error) {
	remote, err := repo.Remote("origin")
	if err != nil {
		return "", err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", r.Spec.Display(), err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			return ref.Target().Short(), nil
		}
	}
	return "", fmt.Errorf("%s does not say its default branch: give one as URL#BRANCH", r.Spec.Display())
}

// auth reads the credentials from their files, at every fetch.
func (r *Repo) auth() (transport.AuthMethod, error) {
	s := r.Spec
	user := "git"
	if kind, _ := s.transport(); kind == "ssh" {
		if at, _, ok := strings.Cut(strings.TrimPrefix(s.URL, "ssh://"), "@"); ok && !strings.ContainsAny(at, "/:") {
			user = at
		}
	} else if u, err := urlUser(s.URL); err == nil && u != "" {
		user = u
	}
	switch {
	case s.TokenFile != "":
		b, err := os.ReadFile(s.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("%s: token-file: %w", s.Display(), err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("%s: token-file %s is empty", s.Display(), s.TokenFile)
		}
		return &githttp.BasicAuth{Username: user, Password: token}, nil
	case s.SSHKeyFile != "":
		keys, err := gitssh.NewPublicKeysFromFile(user, s.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("%s: ssh-key %s: %w", s.Display(), s.SSHKeyFile, err)
		}
		if s.KnownHosts != "" {
			cb, err := gitssh.NewKnownHostsCallback(s.KnownHosts)
			if err != nil {
				return nil, fmt.Errorf("%s: known-hosts %s: %w", s.Display(), s.KnownHosts, err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	return nil, nil
}

// Tree returns the directory holding the commit's files, laying it out on
// first use; a commit the clone lacks is fetched first (an agent asked
// for the server's commit before it fetched it). commit must be a full
// hash: the agent receives it from the server.
func (r *Repo) Tree(ctx context.Context, commit string) (string, error) {
	if !commitRE.MatchString(commit) {
		return "", fmt.Errorf("%s: %q is not a commit hash", r.Spec.Display(), commit)
	}
	dst := filepath.Join(r.dir, "at", commit)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	repo, err := r.open()
	if err != nil {
		return "", err
	}
	c, err := repo.CommitObject(plumbing.NewHash(commit))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		if _, ferr := r.fetch(ctx); ferr != nil {
			return "", ferr
		}
		// A handle opened before the fetch does not see its new pack.
		if repo, err = r.open(); err != nil {
			return "", err
		}
		c, err = repo.CommitObject(plumbing.NewHash(commit))
	}
	if err != nil {
		return "", fmt.Errorf("%s: commit %s: %w (was the branch rewritten?)", r.Spec.Display(), commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return "", fmt.Errorf("%s: commit %s: %w", r.Spec.Display(), commit, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", fmt.Errorf("content repository: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".tmp-"+commit[:12]+"-")
	if err != nil {
		return "", fmt.Errorf("content repository: %w", err)
	}
	if err := writeTree(tree, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("%s: laying out commit %s: %w", r.Spec.Display(), commit, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("content repository: %w", err)
	}
	return dst, nil
}

// writeTree writes the tree's directories and regular files under dir,
// through an os.Root so that no name a remote chose can land outside it.
// Symbolic links and submodules are left out: a link in content could lead
// a deployment or a hook anywhere on the host.
func writeTree(tree *object.Tree, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, entry, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch entry.Mode {
		case filemode.Dir:
			if err := root.MkdirAll(filepath.FromSlash(name), 0o755); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			mode := fs.FileMode(0o644)
			if entry.Mode == filemode.Executable {
				mode = 0o755 // hooks must stay executable
			}
			if err := writeBlob(tree, root, name, entry.Hash, mode); err != nil {
				return err
			}
		}
	}
}

func writeBlob(tree *object.Tree, root *os.Root, name string, hash plumbing.Hash, mode fs.FileMode) error {
	f, err := tree.File(name)
	if err != nil {
		return err
	}
	if f.Hash != hash {
		return fmt.Errorf("%s: tree and blob disagree", name)
	}
	in, err := f.Reader()
	if err != nil {
		return err
	}
	defer in.Close()
	if d := filepath.Dir(filepath.FromSlash(name)); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	out, err := root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return root.Chmod(filepath.FromSlash(name), mode)
}

// Prune removes the laid-out commits other than keep.
func (r *Repo) Prune(keep ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := filepath.Join(r.dir, "at")
	entries, err := os.ReadDir(at)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !containsString(keep, e.Name()) {
			errs = append(errs, os.RemoveAll(filepath.Join(at, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// urlUser returns the user of an http(s) URL.
func urlUser(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "", err
	}
	return u.User.Username(), nil
}

// Reachable asks the remote for the followed branch's commit, with the
// credentials, and writes nothing: wod check's probe.
func Reachable(ctx context.Context, spec Spec) (string, error) {
	r := &Repo{Spec: spec}
	auth, err := r.auth()
	if err != nil {
		return "", err
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{spec.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", spec.Display(), err)
	}
	want := plumbing.HEAD
	if spec.Branch != "" {
		want = plumbing.NewBranchReferenceName(spec.Branch)
	}
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	ref := byName[want]
	if ref != nil && ref.Type() == plumbing.SymbolicReference {
		ref = byName[ref.Target()]
	}
	if ref == nil {
		return "", fmt.Errorf("%s has no branch %s", spec.Display(), want.Short())
	}
	return ref.Hash().String(), nil
}
