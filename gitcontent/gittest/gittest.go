// Package gittest makes real git repositories for tests: a bare
// repository with a working clone to commit and push from through the git
// CLI, as a content author does, served by file:// or by git http-backend
// over HTTP on loopback.
package gittest

import (
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Origin is a bare repository and its author's working clone.
type Origin struct {
	t    testing.TB
	Bare string // the bare repository
	work string
}

// New makes an empty repository whose branch is main. It skips the test
// when git is missing, unless WOD_TEST_REQUIRE_GIT is set (scripts/test
// installs git).
func New(t testing.TB) *Origin {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("WOD_TEST_REQUIRE_GIT") != "" {
			t.Fatal("git is not installed (scripts/test installs it)")
		}
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	o := &Origin{t: t, Bare: filepath.Join(dir, "content.git"), work: filepath.Join(dir, "work")}
	o.Git(dir, "init", "-q", "--bare", "-b", "main", o.Bare)
	o.Git(dir, "clone", "-q", o.Bare, o.work)
	o.Git(o.work, "checkout", "-q", "-b", "main")
	return o
}

// Git runs git in dir, failing the test on an error.
func (o *Origin) Git(dir string, args ...string) string {
	o.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Author", "GIT_AUTHOR_EMAIL=author@example.org",
		"GIT_COMMITTER_NAME=Author", "GIT_COMMITTER_EMAIL=author@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Work is the author's working clone, to add what Commit cannot (links).
func (o *Origin) Work() string { return o.work }

// Commit writes the files (by slash path; a nil text removes the file; a
// name ending in .sh is executable), commits, pushes, and returns the new
// commit's hash.
func (o *Origin) Commit(msg string, files map[string]*string) string {
	o.t.Helper()
	for name, text := range files {
		p := filepath.Join(o.work, filepath.FromSlash(name))
		if text == nil {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			o.t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(*text), mode); err != nil {
			o.t.Fatal(err)
		}
	}
	o.Git(o.work, "add", "-A")
	o.Git(o.work, "commit", "-q", "--allow-empty", "-m", msg)
	o.Git(o.work, "push", "-q", "origin", "main")
	return o.Git(o.work, "rev-parse", "HEAD")
}

// FileURL is the repository's file:// URL.
func (o *Origin) FileURL() string { return "file://" + o.Bare }

// Text is a file's content for Commit.
func Text(v string) *string { return &v }

// ServeHTTP serves the repository through git http-backend (CGI) on
// loopback until the test ends, and returns its URL. With a token, only
// requests with that password (HTTP basic authentication) get through, as
// a forge serves a private repository.
func (o *Origin) ServeHTTP(t testing.TB, token string) string {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git http-backend: %v", err)
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(o.Bare), "GIT_HTTP_EXPORT_ALL=1"}}
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			if _, pw, ok := r.BasicAuth(); !ok || pw != token {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: auth}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/" + filepath.Base(o.Bare)
}
