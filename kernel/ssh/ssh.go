// Package ssh is the kernel that runs a notebook's cells on another host,
// as sshkernel did for the original's workshops: `%login user@host` (keys
// and ~/.ssh/config from the student's home, the ssh agent, or a password
// asked in the notebook), then every cell runs in one persistent bash on
// that host, until `%logout`.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wod-dev/wod/kernel"
)

// Options configure the kernel.
type Options struct {
	// Home is the student's home: ~/.ssh/config, the key files and
	// known_hosts are read there.
	Home string
	// AgentSocket is SSH_AUTH_SOCK; empty for no agent.
	AgentSocket string
	// User is the remote user when neither %login nor ~/.ssh/config
	// names one; empty means the local user, as ssh does.
	User string
	// LoginTimeout bounds connecting and authenticating (not the time a
	// student takes to type a password). Zero means 30 s.
	LoginTimeout time.Duration
	Logger       *slog.Logger
}

// Interpreter is the ssh kernel's language: magics, and cells run on the
// host of the last %login.
type Interpreter struct {
	opt Options
	log *slog.Logger

	mu     sync.Mutex // guards conn against the keepalive's close
	conn   *connection
	params map[string]string // %param, exported by the next login
}

// connection is a login: the client and its persistent shell.
type connection struct {
	target target
	client *ssh.Client
	shell  *shell // nil when the shell ended; the next cell starts one
	lost   chan struct{}
	err    error // why the connection ended, once lost is closed
	once   sync.Once
}

// New returns the kernel; it connects nowhere before a %login.
func New(opt Options) (*Interpreter, error) {
	if opt.Home == "" {
		return nil, errors.New("ssh kernel: no home directory to read ~/.ssh from")
	}
	if opt.User == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("ssh kernel: the local user: %w", err)
		}
		opt.User = u.Username
	}
	if opt.LoginTimeout <= 0 {
		opt.LoginTimeout = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Interpreter{opt: opt, log: opt.Logger, params: map[string]string{}}, nil
}

// Info is sshkernel's language_info (language "ssh", shell highlighting),
// so notebooks saved by either look the same.
func (in *Interpreter) Info() kernel.Info {
	return kernel.Info{
		Implementation:        "wod-ssh",
		ImplementationVersion: "1.0",
		Banner:                "SSH kernel (wod): %login user@host, then every cell runs in a bash on that host; %logout.",
		Language: kernel.LanguageInfo{
			Name:           "ssh",
			MIMEType:       "text/x-sh",
			FileExtension:  ".sh",
			CodeMirrorMode: "shell",
			PygmentsLexer:  "bash",
		},
	}
}

// Execute runs the magics at the start of the cell (%login, %logout,
// %param, one a line), then the rest of the cell on the remote host.
func (in *Interpreter) Execute(ctx context.Context, code string, out kernel.Output) error {
	lines := strings.Split(code, "\n")
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "%") {
			break
		}
		if err := in.magic(ctx, l, out); err != nil {
			return err
		}
	}
	rest := strings.Join(lines[i:], "\n")
	if strings.TrimSpace(rest) == "" {
		return nil
	}
	return in.remote(ctx, rest, out)
}

// magic runs one magic line.
func (in *Interpreter) magic(ctx context.Context, line string, out kernel.Output) error {
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "%login":
		if arg == "" {
			return usage(out, "%login needs a host: %login user@host[:port]")
		}
		return in.login(ctx, in.substitute(arg), out)
	case "%logout":
		in.logout(out)
		return nil
	case "%param":
		return in.param(arg, out)
	}
	return usage(out, fmt.Sprintf("unknown magic %s: the ssh kernel knows %%login user@host[:port], %%logout and %%param NAME VALUE", name))
}

func usage(out kernel.Output, msg string) error {
	out.Stream("stderr", "[ssh] "+msg+"\n")
	return &kernel.Error{Name: "UsageError", Value: msg, Traceback: []string{msg}}
}

var (
	paramName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	paramValue = regexp.MustCompile(`^[A-Za-z0-9 %,./:=_@-]*$`)
	paramRef   = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// param is %param NAME VALUE: exported in the remote shell (now, if logged
// in, and at every later login), and {NAME} in %login's argument.
func (in *Interpreter) param(arg string, out kernel.Output) error {
	name, value, _ := strings.Cut(arg, " ")
	value = strings.TrimSpace(value)
	if !paramName.MatchString(name) || !paramValue.MatchString(value) {
		return usage(out, "%param NAME VALUE: NAME is letters, digits and _, VALUE letters, digits, spaces and -%,./:=_@")
	}
	in.params[name] = value
	if c := in.current(); c != nil && c.shell != nil {
		_, _ = c.shell.run(context.Background(), exportLine(name, value), func(string, []byte) {})
	}
	return nil
}

func (in *Interpreter) substitute(s string) string {
	return paramRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := in.params[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func exportLine(name, value string) string {
	return "export " + name + "='" + strings.ReplaceAll(value, "'", `'\''`) + "'\n"
}

func (in *Interpreter) exports() []string {
	names := make([]string, 0, len(in.params))
	for n := range in.params {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = exportLine(n, in.params[n])
	}
	return lines
}

// current is the live connection, nil when logged out or lost.
func (in *Interpreter) current() *connection {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.conn
}

// login is %login: log out of the previous host, connect, start the shell.
func (in *Interpreter) login(ctx context.Context, arg string, out kernel.Output) error {
	if in.current() != nil {
		in.logout(out)
	}
	t, err := in.resolve(arg)
	if err != nil {
		return usage(out, err.Error())
	}
	out.Stream("stdout", fmt.Sprintf("[ssh] Login to %s...\n", t.Alias))
	if t.HostName != t.Alias {
		out.Stream("stdout", fmt.Sprintf("[ssh] host=%s hostname=%s user=%s port=%d\n", t.Alias, t.HostName, t.User, t.Port))
	}
	client, err := in.dial(ctx, t, out)
	var sh *shell
	if err == nil {
		sh, err = startShell(ctx, in.log, client, in.exports(), in.opt.LoginTimeout)
		if err != nil {
			client.Close()
		}
	}
	if err != nil {
		if errors.Is(err, kernel.ErrInterrupted) || ctx.Err() != nil {
			return kernel.ErrInterrupted
		}
		msg := fmt.Sprintf("Login to %s failed.", t.Alias)
		out.Stream("stderr", fmt.Sprintf("[ssh] %s\n[ssh] %v\n", msg, err))
		return &kernel.Error{Name: "SSHConnectionError", Value: msg, Traceback: []string{msg + " " + err.Error()}}
	}
	c := &connection{target: t, client: client, shell: sh, lost: make(chan struct{})}
	in.mu.Lock()
	in.conn = c
	in.mu.Unlock()
	go in.watch(c)
	in.log.Info("ssh login", "target", t.String(), "addr", t.addr())
	out.Stream("stdout", "[ssh] Successfully logged in.\n")
	return nil
}

// Keepalives find a connection that died without a word (a NAT that
// forgot it, a host that went away): after keepaliveMiss without an
// answer, the connection is closed and the cell running ends with an error.
const (
	keepaliveEvery = 15 * time.Second
	keepaliveMiss  = 30 * time.Second
)

// watch notices the end of a connection.
func (in *Interpreter) watch(c *connection) {
	go func() {
		c.end(c.client.Wait())
	}()
	t := time.NewTicker(keepaliveEvery)
	defer t.Stop()
	for {
		select {
		case <-c.lost:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-c.lost:
			return
		case err := <-reply:
			if err != nil {
				c.end(err)
				return
			}
		case <-time.After(keepaliveMiss):
			c.end(errors.New("no answer to keepalives"))
			return
		}
	}
}

// end records why the connection ended and closes it.
func (c *connection) end(err error) {
	c.once.Do(func() {
		if err == nil {
			err = errors.New("closed by the host")
		}
		c.err = err
		close(c.lost)
		c.client.Close()
	})
}

func (c *connection) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// logout is %logout; silent when logged out, as sshkernel.
func (in *Interpreter) logout(out kernel.Output) {
	in.mu.Lock()
	c := in.conn
	in.conn = nil
	in.mu.Unlock()
	if c == nil {
		return
	}
	if out != nil {
		out.Stream("stdout", "[ssh] Closing existing connection.\n")
	}
	if c.shell != nil {
		c.shell.close()
	}
	c.end(errors.New("logged out"))
	if out != nil {
		out.Stream("stdout", "[ssh] Successfully logged out.\n")
	}
}

// remote runs code in the shell of the current login.
func (in *Interpreter) remote(ctx context.Context, code string, out kernel.Output) error {
	c := in.current()
	if c == nil {
		const msg = "Not logged in: run %login user@host first."
		out.Stream("stderr", "[ssh] "+msg+"\n")
		return &kernel.Error{Name: "abort", Value: "not connected", Traceback: []string{msg}}
	}
	if c.isLost() {
		return in.lost(c, out)
	}
	if c.shell != nil && c.shell.exited() {
		c.shell.close()
		c.shell = nil
	}
	if c.shell == nil {
		sh, err := startShell(ctx, in.log, c.client, in.exports(), in.opt.LoginTimeout)
		if err != nil {
			if c.isLost() {
				return in.lost(c, out)
			}
			if ctx.Err() != nil {
				return kernel.ErrInterrupted
			}
			msg := "Could not start a new shell on " + c.target.Alias + ": " + err.Error()
			out.Stream("stderr", "[ssh] "+msg+"\n")
			return &kernel.Error{Name: "SSHConnectionError", Value: msg, Traceback: []string{msg}}
		}
		c.shell = sh
		out.Stream("stderr", "[ssh] Started a new shell on "+c.target.Alias+" (the previous one ended).\n")
	}
	rc, err := c.shell.run(ctx, code, func(stream string, b []byte) { out.Stream(stream, string(b)) })
	switch {
	case err == nil && rc == 0:
		return nil
	case err == nil:
		return exitError(rc)
	case errors.Is(err, kernel.ErrInterrupted):
		return kernel.ErrInterrupted
	}
	// The shell is gone: the connection with it, or only the shell.
	sh := c.shell
	c.shell = nil
	sh.close()
	if c.isLost() || !errors.Is(err, errShellGone) {
		c.end(err)
		return in.lost(c, out)
	}
	var exit *ssh.ExitError
	switch {
	case ctx.Err() != nil:
		out.Stream("stderr", "[ssh] The cell did not stop on interrupt: its shell was ended. The next cell starts a new one (cd and variables are lost).\n")
		return kernel.ErrInterrupted
	case errors.As(sh.err, &exit):
		out.Stream("stderr", fmt.Sprintf("[ssh] The remote shell exited with status %d; the next cell starts a new one.\n", exit.ExitStatus()))
		return exitError(exit.ExitStatus())
	case sh.err == nil:
		out.Stream("stderr", "[ssh] The remote shell exited; the next cell starts a new one.\n")
		return nil
	}
	// No exit status: the channel or the connection broke.
	c.end(fmt.Errorf("the shell's channel closed: %v", sh.err))
	return in.lost(c, out)
}

// exitError is sshkernel's error for a cell whose last command failed.
func exitError(rc int) error {
	return &kernel.Error{
		Name:      "abnormal exit code",
		Value:     strconv.Itoa(rc),
		Traceback: []string{fmt.Sprintf("exit status %d", rc)},
	}
}

// lost reports a connection that ended and forgets it.
func (in *Interpreter) lost(c *connection, out kernel.Output) error {
	<-c.lost
	in.mu.Lock()
	if in.conn == c {
		in.conn = nil
	}
	in.mu.Unlock()
	msg := fmt.Sprintf("Connection to %s lost (%v): run %%login again.", c.target.Alias, c.err)
	out.Stream("stderr", "[ssh] "+msg+"\n")
	return &kernel.Error{Name: "SSHConnectionError", Value: "connection to " + c.target.Alias + " lost", Traceback: []string{msg}}
}

// Complete asks the remote shell for completions, as sshkernel did
// (compgen), when logged in; nothing otherwise.
func (in *Interpreter) Complete(ctx context.Context, code string, cursor int) kernel.Completion {
	r := []rune(code)
	cursor = max(0, min(cursor, len(r)))
	start := cursor
	for start > 0 && !strings.ContainsRune(" \t\n;|&(){}<>\"'=`", r[start-1]) {
		start--
	}
	none := kernel.Completion{CursorStart: cursor, CursorEnd: cursor}
	tok := string(r[start:cursor])
	c := in.current()
	if tok == "" || c == nil || c.shell == nil || c.isLost() {
		return none
	}
	q := "'" + strings.ReplaceAll(tok, "'", `'\''`) + "'"
	cmd := "compgen -cdfa -- " + q
	if strings.HasPrefix(tok, "$") {
		q = "'" + strings.ReplaceAll(tok[1:], "'", `'\''`) + "'"
		cmd = "compgen -P '$' -A arrayvar -A export -A variable -- " + q
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var b strings.Builder
	if _, err := c.shell.run(ctx, cmd+" 2>/dev/null | sort -u | head -n 200", func(stream string, p []byte) {
		if stream == "stdout" {
			b.Write(p)
		}
	}); err != nil {
		return none
	}
	m := strings.Fields(b.String())
	if len(m) == 0 {
		return none
	}
	return kernel.Completion{Matches: m, CursorStart: start, CursorEnd: cursor}
}

// IsComplete is "unknown": the remote shell decides, as bash_kernel does.
func (in *Interpreter) IsComplete(code string) (string, string) { return "unknown", "" }

// Restart logs out and forgets %param values: a fresh kernel.
func (in *Interpreter) Restart(ctx context.Context) error {
	in.logout(nil)
	in.params = map[string]string{}
	return nil
}

// Close logs out.
func (in *Interpreter) Close() error {
	in.logout(nil)
	return nil
}
