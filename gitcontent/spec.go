// Package gitcontent follows workshop content kept in git repositories
// (--content-repo), as the original follows its public wod-notebooks and
// its private overlay: it clones them into the data directory with go-git,
// fetches them, and lays each imported commit out as a directory of its
// own, never changed once written, so that the server imports it and the
// agents deploy from exactly that commit while the repository moves on.
package gitcontent

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// Spec is one --content-repo value:
//
//	URL[#BRANCH] [token-file=FILE] [ssh-key=FILE] [known-hosts=FILE]
//
// URL is https://, http:// (loopback only with a token), ssh://, scp-like
// user@host:path, file:// or a local path (these two run the installed
// git's git-upload-pack, as go-git does for local repositories). A private repository is reached
// with a token read from token-file (HTTP basic authentication, the user
// being the URL's, else "git": GitHub, GitLab and Gitea take a token so) or
// with the SSH key in ssh-key (checked against known-hosts, else the
// user's ~/.ssh/known_hosts). Credentials are read from their files at
// every fetch, so that a rotated token needs no restart, and never appear
// in the URL, the logs or the pages.
type Spec struct {
	URL        string
	Branch     string // empty: the remote's default branch
	TokenFile  string
	SSHKeyFile string
	KnownHosts string
}

// ParseSpec parses a --content-repo value.
func ParseSpec(s string) (Spec, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Spec{}, fmt.Errorf("--content-repo: empty")
	}
	var sp Spec
	sp.URL, sp.Branch, _ = strings.Cut(fields[0], "#")
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return Spec{}, fmt.Errorf("--content-repo %s: %q: want token-file=FILE, ssh-key=FILE or known-hosts=FILE", sp.URL, f)
		}
		switch k {
		case "token-file":
			sp.TokenFile = v
		case "ssh-key":
			sp.SSHKeyFile = v
		case "known-hosts":
			sp.KnownHosts = v
		default:
			return Spec{}, fmt.Errorf("--content-repo %s: unknown option %q (token-file, ssh-key, known-hosts)", sp.URL, k)
		}
	}
	if err := sp.check(); err != nil {
		return Spec{}, fmt.Errorf("--content-repo %s: %w", sp.Display(), err)
	}
	return sp, nil
}

// ParseSpecs parses every --content-repo value, refusing one repository
// given twice.
func ParseSpecs(values []string) ([]Spec, error) {
	var out []Spec
	seen := map[string]bool{}
	for _, v := range values {
		sp, err := ParseSpec(v)
		if err != nil {
			return nil, err
		}
		if seen[sp.Key()] {
			return nil, fmt.Errorf("--content-repo %s is given twice", sp.Display())
		}
		seen[sp.Key()] = true
		out = append(out, sp)
	}
	return out, nil
}

func (s Spec) check() error {
	if s.Branch != "" && (strings.HasPrefix(s.Branch, "-") || strings.ContainsAny(s.Branch, " ~^:?*[\\") ||
		strings.Contains(s.Branch, "..")) {
		return fmt.Errorf("branch %q is not a branch name", s.Branch)
	}
	if s.TokenFile != "" && s.SSHKeyFile != "" {
		return fmt.Errorf("give token-file or ssh-key, not both")
	}
	kind, host := s.transport()
	switch kind {
	case "http", "https":
		if s.SSHKeyFile != "" {
			return fmt.Errorf("ssh-key is for ssh:// or user@host:path URLs; an HTTP repository takes token-file")
		}
		u, _ := url.Parse(s.URL)
		if _, hasPass := u.User.Password(); hasPass {
			return fmt.Errorf("the URL holds a password: put the token in a file and give token-file=FILE")
		}
		if kind == "http" && s.TokenFile != "" && !loopback(host) {
			return fmt.Errorf("a token is not sent over plain http:// to %s: use https://", host)
		}
	case "ssh":
		if s.TokenFile != "" {
			return fmt.Errorf("token-file is for http(s):// URLs; an SSH repository takes ssh-key")
		}
	case "file":
		if s.TokenFile != "" || s.SSHKeyFile != "" {
			return fmt.Errorf("a local repository takes no credentials")
		}
	default:
		return fmt.Errorf("unsupported URL (https://, http://, ssh://, user@host:path, file:// or a local path)")
	}
	return nil
}

// transport says how the URL is reached ("https", "http", "ssh", "file"
// or "") and the host.
func (s Spec) transport() (kind, host string) {
	if u, err := url.Parse(s.URL); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "https", "http", "ssh", "file":
			return u.Scheme, u.Hostname()
		}
		return "", ""
	}
	if at, rest, ok := strings.Cut(s.URL, ":"); ok && !strings.Contains(at, "/") && rest != "" {
		// scp-like: [user@]host:path
		_, h, found := strings.Cut(at, "@")
		if !found {
			h = at
		}
		return "ssh", h
	}
	if filepath.IsAbs(s.URL) {
		return "file", ""
	}
	return "", ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Display is the URL as pages and logs show it: no user, and the branch.
func (s Spec) Display() string {
	u := s.PlainURL()
	if s.Branch != "" {
		u += "#" + s.Branch
	}
	return u
}

// PlainURL is the URL without the user, as recorded for operators.
func (s Spec) PlainURL() string {
	if p, err := url.Parse(s.URL); err == nil && p.User != nil && p.Scheme != "" {
		p.User = nil
		return p.String()
	}
	return s.URL
}

// Key names the repository whatever the form of its URL: host and path,
// lower case, without ".git", the branch after "#" when one is given. The
// server's and an agent's URLs of one repository (https:// for one, SSH
// for the other) have the same key.
func (s Spec) Key() string {
	var host, p string
	if u, err := url.Parse(s.URL); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		host, p = u.Hostname(), u.Path
	} else if kind, h := s.transport(); kind == "ssh" {
		_, rest, _ := strings.Cut(s.URL, ":")
		host, p = h, rest
	} else {
		p = s.URL
	}
	p = strings.TrimSuffix(path.Clean("/"+strings.TrimSuffix(p, "/")), ".git")
	k := strings.ToLower(host + p)
	if s.Branch != "" {
		k += "#" + s.Branch
	}
	return k
}
