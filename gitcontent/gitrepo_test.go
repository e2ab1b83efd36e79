package gitcontent_test

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

// origin is a bare repository made by the test, with a working clone to
// commit and push from, through the git CLI as a content author would.
type origin struct {
	t    *testing.T
	bare string // the bare repository
	work string
}

func gitBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("WOD_TEST_REQUIRE_GIT") != "" {
			t.Fatal("git is not installed (scripts/test installs it)")
		}
		t.Skip("git is not installed")
	}
	return p
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	gitBin(t)
	dir := t.TempDir()
	o := &origin{t: t, bare: filepath.Join(dir, "content.git"), work: filepath.Join(dir, "work")}
	o.git(dir, "init", "-q", "--bare", "-b", "main", o.bare)
	o.git(dir, "clone", "-q", o.bare, o.work)
	o.git(o.work, "checkout", "-q", "-b", "main")
	return o
}

func (o *origin) git(dir string, args ...string) string {
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

// commit writes the files (a nil content removes the file), commits and
// pushes, and returns the new commit.
func (o *origin) commit(msg string, files map[string]*string) string {
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
	o.git(o.work, "add", "-A")
	o.git(o.work, "commit", "-q", "--allow-empty", "-m", msg)
	o.git(o.work, "push", "-q", "origin", "main")
	return o.git(o.work, "rev-parse", "HEAD")
}

func (o *origin) fileURL() string { return "file://" + o.bare }

func s(v string) *string { return &v }

// serveHTTP serves the bare repository's parent through git http-backend
// (CGI) on loopback; with a token, only HTTP basic authentication with that
// password is let through, as a forge does for a private repository.
func (o *origin) serveHTTP(t *testing.T, token string) string {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git http-backend: %v", err)
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(o.bare), "GIT_HTTP_EXPORT_ALL=1"}}
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
	return "http://" + ln.Addr().String() + "/" + filepath.Base(o.bare)
}
