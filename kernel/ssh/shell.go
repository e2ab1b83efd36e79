package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wod-dev/wod/kernel"
)

// The remote shell is one interactive bash per login, on an exec channel
// without a pty: cells are fed to its stdin, and at its prompt after each
// the shell prints a marker on stdout (with the cell's exit status) and on
// stderr, so that the kernel knows where the cell's output ends on both
// streams.
//
// Interactive, so that an interrupt behaves as Ctrl-C at a prompt: SIGINT
// (sent to the session's process group) ends the running command, bash
// drops the rest of the cell and survives, and an error in an expansion
// (${x:?}) does not end the shell as it would a script. Without a pty,
// programs see what they saw under sshkernel (no terminal: no colours,
// pagers or progress bars), and stdout and stderr stay apart.
const shellCommand = "exec bash --norc --noprofile --noediting -i"

// prelude quiets the interactive shell (no prompts, history, job control
// or mail notices) and makes it print the markers, from PROMPT_COMMAND:
// bash runs it whenever it is back at its prompt, after a cell as after an
// interrupt, when it has dropped the rest of its input. What the shell
// prints before the first cell is dropped.
const prelude = `PS1= PS2= PS4='+ '; unset HISTFILE MAILCHECK; set +o history +m +H
__wod_prompt() { local s=$?; printf '\036wod:%s%s\037' "$__wod_tok" "$s"; printf '\036wod:%s\037' "$__wod_tok" >&2; }
PROMPT_COMMAND=__wod_prompt
export PAGER=cat
`

// Interrupt timing: after SIGINT through the session, the kernel sends a
// second SIGINT from another channel after signalGrace (servers before
// OpenSSH 8.1 ignore "signal" requests), and gives the shell up killGrace
// later.
const (
	signalGrace = time.Second
	killGrace   = 5 * time.Second
)

// errShellGone is a shell that ended or was abandoned; the connection
// may still be fine.
var errShellGone = errors.New("the remote shell ended")

type chunk struct {
	stream string
	data   []byte
}

type shell struct {
	log    *slog.Logger
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	chunks chan chunk
	done   chan struct{} // closed when both streams ended and the session is over
	err    error         // the session's end, once done is closed
	pid    string        // the shell's process id, its process group

	// noSignalRequest skips the "signal" channel request, as a server
	// before OpenSSH 8.1 would ignore it (tests of the fallback).
	noSignalRequest bool
}

// startShell opens the session, starts bash and waits for it to answer.
// exports are %param values, exported at the start.
func startShell(ctx context.Context, log *slog.Logger, client *ssh.Client, exports []string, timeout time.Duration) (*shell, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("opening a session: %w", err)
	}
	sh := &shell{log: log, client: client, sess: sess, chunks: make(chan chunk, 64), done: make(chan struct{})}
	sh.stdin, err = sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	stderr, err := sess.StderrPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.Start(shellCommand); err != nil {
		sess.Close()
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	var wg sync.WaitGroup
	for name, r := range map[string]io.Reader{"stdout": stdout, "stderr": stderr} {
		wg.Go(func() { sh.read(name, r) })
	}
	go func() {
		wg.Wait()
		sh.err = sess.Wait()
		close(sh.done)
	}()

	tok := token()
	script := prelude + strings.Join(exports, "") + cellScript("printf '%s' $$", tok)
	if _, err := io.WriteString(sh.stdin, script); err != nil {
		sh.close()
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var drop strings.Builder
	var pid strings.Builder
	_, err = sh.wait(ctx, tok, func(stream string, b []byte) {
		if stream == "stdout" {
			pid.Write(b)
		} else {
			drop.Write(b)
		}
	})
	if err != nil {
		sh.close()
		if errors.Is(err, errShellGone) {
			return nil, fmt.Errorf("bash did not start on the host (is it installed?): %s", strings.TrimSpace(drop.String()))
		}
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	sh.pid = strings.TrimSpace(pid.String())
	return sh, nil
}

func (sh *shell) read(name string, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			sh.chunks <- chunk{name, append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			return
		}
	}
}

func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cellScript feeds code to the shell as one command line: set the
// cell's token, read the code into a variable from a here document (so
// that it reaches bash whole, quotes and here documents of its own
// included), and evaluate it with stdin from /dev/null (a command reading
// stdin would otherwise eat the next cells). Then bash is back at its
// prompt and prints the markers with the token.
func cellScript(code, tok string) string {
	delim := "WOD_CELL_" + tok
	return "__wod_tok=" + tok + "; IFS= read -r -d '' __wod_code <<'" + delim + "' || :; eval \"$__wod_code\" </dev/null\n" +
		code + "\n" + delim + "\n"
}

// run executes one cell, streaming its output, and returns its exit
// status. On ctx's end it interrupts the cell (SIGINT through the session,
// then from a second channel) and waits for the shell to be back; a shell
// that does not come back is closed and errShellGone returned.
func (sh *shell) run(ctx context.Context, code string, emit func(stream string, b []byte)) (int, error) {
	tok := token()
	if _, err := io.WriteString(sh.stdin, cellScript(code, tok)); err != nil {
		// A shell that ended closes its channel: tell that from a
		// broken connection.
		select {
		case <-sh.done:
			return 0, errShellGone
		case <-time.After(2 * time.Second):
			return 0, fmt.Errorf("sending the cell: %w", err)
		}
	}
	status, err := sh.wait(ctx, tok, emit)
	if err != nil {
		return 0, err
	}
	rc, err := strconv.Atoi(status)
	if err != nil {
		return 1, nil
	}
	return rc, nil
}

// wait streams output until both markers of tok came, and returns the
// stdout marker's value. An interrupt of ctx is passed on to the remote
// cell; wait then returns kernel.ErrInterrupted once the shell is back.
func (sh *shell) wait(ctx context.Context, tok string, emit func(stream string, b []byte)) (string, error) {
	sc := map[string]*scanner{"stdout": newScanner(tok), "stderr": newScanner(tok)}
	send := func(c chunk) {
		if b := sc[c.stream].feed(c.data); len(b) > 0 {
			emit(c.stream, b)
		}
	}
	finished := func() bool { return sc["stdout"].found && sc["stderr"].found }
	var (
		interrupted bool
		stage       <-chan time.Time
		signalled   chan struct{} // the second SIGINT, once sent
	)
	defer func() {
		if signalled != nil {
			<-signalled // no late signal into the next cell
		}
	}()
	ctxDone := ctx.Done()
	for !finished() {
		select {
		case c := <-sh.chunks:
			send(c)
		case <-sh.done:
			for len(sh.chunks) > 0 {
				send(<-sh.chunks)
			}
			if finished() {
				break
			}
			for name, s := range sc {
				if b := s.flush(); len(b) > 0 {
					emit(name, b)
				}
			}
			return "", errShellGone
		case <-ctxDone:
			ctxDone = nil
			if sh.pid == "" { // still starting
				return "", ctx.Err()
			}
			interrupted = true
			sh.log.Debug("interrupting the cell: SIGINT through the session", "pid", sh.pid, "signal_request", !sh.noSignalRequest)
			if !sh.noSignalRequest {
				_ = sh.sess.Signal(ssh.SIGINT)
			}
			stage = time.After(signalGrace)
		case <-stage:
			if signalled == nil {
				// The signal request was ignored (OpenSSH before
				// 8.1), or came while bash was starting a command.
				sh.log.Debug("the cell still runs: SIGINT from a second channel", "pid", sh.pid)
				signalled = make(chan struct{})
				go func() { defer close(signalled); sh.signalGroup("INT") }()
				stage = time.After(killGrace)
				continue
			}
			sh.log.Debug("the cell did not stop: killing the shell's process group", "pid", sh.pid)
			<-signalled
			sh.signalGroup("KILL")
			sh.close()
			return "", errShellGone
		}
	}
	if interrupted {
		return sc["stdout"].value, kernel.ErrInterrupted
	}
	return sc["stdout"].value, nil
}

func (sh *shell) close() {
	sh.stdin.Close()
	sh.sess.Close()
}

// signalGroup sends sig to the shell's process group from a second
// channel: the shell is the session leader sshd started, so its pid is
// the group of everything a cell runs in the foreground.
func (sh *shell) signalGroup(sig string) {
	s, err := sh.client.NewSession()
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{})
	go func() {
		out, err := s.CombinedOutput("kill -" + sig + " -- -" + sh.pid + " 2>/dev/null || kill -" + sig + " " + sh.pid)
		sh.log.Debug("signalling the shell's process group", "signal", sig, "pid", sh.pid, "err", err, "output", string(out))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
	}
}

// exited tells whether the shell ended (between cells: `exit` in the
// background, a kill).
func (sh *shell) exited() bool {
	select {
	case <-sh.done:
		return true
	default:
		return false
	}
}
