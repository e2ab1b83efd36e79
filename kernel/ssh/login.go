package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/wod-dev/wod/kernel"
)

// target is where %login goes, after ~/.ssh/config.
type target struct {
	Alias    string // as written in %login, without user and port
	HostName string
	User     string
	Port     int
	Keys     []string // identity files, in the order they are offered
}

func (t target) addr() string { return net.JoinHostPort(t.HostName, strconv.Itoa(t.Port)) }

// String is user@host[:port] as the student would write it.
func (t target) String() string {
	s := t.User + "@" + t.Alias
	if t.Port != 22 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// defaultKeys are the key files ssh tries when the configuration names
// none (the ones wod's seats and the original's installer create).
var defaultKeys = []string{"id_ed25519", "id_rsa", "id_ecdsa"}

// resolve reads "[user@]host[:port]" and ~/.ssh/config into a target.
func (in *Interpreter) resolve(arg string) (target, error) {
	var t target
	user, host := "", arg
	if i := strings.LastIndex(arg, "@"); i >= 0 {
		user, host = arg[:i], arg[i+1:]
	}
	port := 0
	if h, p, err := net.SplitHostPort(host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return t, fmt.Errorf("bad port in %q", arg)
		}
		host, port = h, n
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return t, fmt.Errorf("bad host in %q: write %%login user@host[:port]", arg)
	}
	cfg, err := readConfig(filepath.Join(in.opt.Home, ".ssh", "config"), host)
	if err != nil {
		return t, err
	}
	t = target{Alias: host, HostName: host, User: user, Port: port}
	if cfg.HostName != "" {
		t.HostName = strings.ReplaceAll(cfg.HostName, "%h", host)
	}
	if t.User == "" {
		t.User = cfg.User
	}
	if t.User == "" {
		t.User = in.opt.User
	}
	if t.Port == 0 {
		t.Port = cfg.Port
	}
	if t.Port == 0 {
		t.Port = 22
	}
	for _, f := range cfg.IdentityFiles {
		t.Keys = append(t.Keys, expandPath(f, in.opt.Home, in.opt.User, t.HostName, t.User))
	}
	for _, f := range defaultKeys {
		t.Keys = append(t.Keys, filepath.Join(in.opt.Home, ".ssh", f))
	}
	return t, nil
}

// dial connects and authenticates: the keys of the configuration, the
// agent's, the default key files, then a password (or keyboard-interactive
// answers) asked of the student through the notebook.
func (in *Interpreter) dial(ctx context.Context, t target, out kernel.Output) (*ssh.Client, error) {
	notice := func(s string) { out.Stream("stderr", "[ssh] "+s+"\n") }
	hk := newHostKeys(in.opt.Home, notice)

	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, in.opt.LoginTimeout)
	conn, err := d.DialContext(dctx, "tcp", t.addr())
	cancel()
	if err != nil {
		return nil, err
	}
	// The login may not take longer than LoginTimeout, except for the
	// time the student takes to type a password; an interrupt ends it.
	deadline := func() { _ = conn.SetDeadline(time.Now().Add(in.opt.LoginTimeout)) }
	deadline()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var agentConn net.Conn
	if in.opt.AgentSocket != "" {
		if c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", in.opt.AgentSocket); err == nil {
			agentConn = c
			defer c.Close()
		} else {
			in.log.Debug("ssh agent unreachable", "socket", in.opt.AgentSocket, "err", err)
		}
	}

	var askFailed error // once the front end cannot answer, stop asking
	var askMu sync.Mutex
	ask := func(prompt string, secret bool) (string, error) {
		askMu.Lock()
		defer askMu.Unlock()
		if askFailed != nil {
			return "", askFailed
		}
		_ = conn.SetDeadline(time.Time{})
		defer deadline()
		s, err := out.Input(ctx, prompt, secret)
		if err != nil {
			if errors.Is(err, kernel.ErrNoStdin) {
				err = errors.New("the keys were refused and this cell cannot ask for a password (no stdin)")
			}
			askFailed = err
			return "", err
		}
		return s, nil
	}

	cfg := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{
			ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
				return in.signers(t.Keys, agentConn, notice), nil
			}),
			ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
				return ask(fmt.Sprintf("%s@%s's password: ", t.User, t.Alias), true)
			}), 3),
			ssh.RetryableAuthMethod(ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				if s := strings.TrimSpace(name + "\n" + instruction); s != "" {
					notice(s)
				}
				answers := make([]string, len(questions))
				for i, q := range questions {
					a, err := ask(q, i >= len(echos) || !echos[i])
					if err != nil {
						return nil, err
					}
					answers[i] = a
				}
				return answers, nil
			}), 3),
		},
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(t.addr()),
		BannerCallback:    func(m string) error { out.Stream("stdout", m); return nil },
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), cfg)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, kernel.ErrInterrupted
		}
		if askFailed != nil {
			return nil, fmt.Errorf("%w (%v)", askFailed, err)
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// signers are the keys offered, each once: the configuration's identity
// files first (as ssh does, so that a full agent cannot use up the
// server's MaxAuthTries before them), then the agent's, then the default
// files.
func (in *Interpreter) signers(files []string, agentConn net.Conn, notice func(string)) []ssh.Signer {
	var out []ssh.Signer
	seen := map[string]bool{}
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	nConfigured := len(files) - len(defaultKeys)
	for i, f := range files {
		if i == nConfigured && agentConn != nil {
			if ss, err := agent.NewClient(agentConn).Signers(); err == nil {
				for _, s := range ss {
					add(s)
				}
			} else {
				in.log.Debug("ssh agent signers", "err", err)
			}
		}
		s, err := readKey(f)
		switch {
		case err == nil:
			add(s)
		case errors.Is(err, fs.ErrNotExist):
		default:
			var pp *ssh.PassphraseMissingError
			if errors.As(err, &pp) {
				notice(fmt.Sprintf("%s has a passphrase: skipped (add it to an ssh agent to use it)", f))
			} else {
				notice(fmt.Sprintf("%s: %v", f, err))
			}
		}
	}
	return out
}

func readKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(b)
}
