package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// hostConfig is what ~/.ssh/config says of one host: the few keywords the
// kernel follows (HostName, User, Port, IdentityFile), as sshkernel did.
// ProxyCommand, ProxyJump, Match and Include are not followed.
type hostConfig struct {
	HostName      string
	User          string
	Port          int
	IdentityFiles []string
}

// readConfig returns the settings of host from the OpenSSH client
// configuration file at path; a missing file is an empty configuration.
// As in ssh_config(5), the first value of a keyword wins, IdentityFile
// accumulates, and "Host" patterns may use *, ? and !negation.
func readConfig(path, host string) (hostConfig, error) {
	var c hostConfig
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading ssh configuration: %w", err)
	}
	defer f.Close()
	applies := true // before any Host line, settings apply to every host
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		key, args := configLine(sc.Text())
		if key == "" {
			continue
		}
		switch key {
		case "host":
			applies = hostMatches(args, host)
			continue
		case "match":
			applies = false // Match criteria are beyond "simple"
			continue
		}
		if !applies || len(args) == 0 {
			continue
		}
		switch key {
		case "hostname":
			if c.HostName == "" {
				c.HostName = args[0]
			}
		case "user":
			if c.User == "" {
				c.User = args[0]
			}
		case "port":
			if c.Port == 0 {
				p, err := strconv.Atoi(args[0])
				if err != nil || p <= 0 || p > 65535 {
					return c, fmt.Errorf("%s line %d: bad port %q", path, n, args[0])
				}
				c.Port = p
			}
		case "identityfile":
			c.IdentityFiles = append(c.IdentityFiles, args[0])
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading %s: %w", path, err)
	}
	return c, nil
}

// configLine splits a line into its lower-case keyword and arguments
// ("Key value", "Key=value", double quotes around an argument).
func configLine(line string) (string, []string) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil
	}
	key, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	var args []string
	for rest != "" {
		var arg string
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				arg, rest = rest[1:], ""
			} else {
				arg, rest = rest[1:end+1], rest[end+2:]
			}
		} else {
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				i = len(rest)
			}
			arg, rest = rest[:i], rest[i:]
		}
		args = append(args, arg)
		rest = strings.TrimLeft(rest, " \t")
	}
	return strings.ToLower(key), args
}

// hostMatches tells whether a "Host" line's patterns select host: one
// pattern matches and no negated one does.
func hostMatches(patterns []string, host string) bool {
	match := false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if glob(neg, host) {
				return false
			}
			continue
		}
		if glob(p, host) {
			match = true
		}
	}
	return match
}

// glob matches s against a pattern of * (any run) and ? (any one
// character), case-insensitively as ssh does for host names.
func glob(pattern, s string) bool {
	p, t := []rune(strings.ToLower(pattern)), []rune(strings.ToLower(s))
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// expandPath resolves ~ and the %d (home), %u (local user), %h (host),
// %r (remote user) and %% tokens of an IdentityFile, and makes a relative
// path relative to ~/.ssh as ssh does.
func expandPath(p, home, localUser, host, user string) string {
	if p == "~" {
		p = home
	} else if rest, ok := strings.CutPrefix(p, "~/"); ok {
		p = filepath.Join(home, rest)
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		i++
		switch p[i] {
		case 'd':
			b.WriteString(home)
		case 'u':
			b.WriteString(localUser)
		case 'h':
			b.WriteString(host)
		case 'r':
			b.WriteString(user)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(p[i])
		}
	}
	p = b.String()
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, ".ssh", p)
	}
	return p
}
