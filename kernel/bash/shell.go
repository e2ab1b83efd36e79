package bash

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// shell is one bash process. It reads the commands the kernel writes on a
// pipe (its script, fd 3 at start), so that its standard input stays the
// terminal for the programs the cells run; stdout is a pseudo-terminal,
// stderr a pipe. After each command the shell writes a marker (made of a
// random token) on both, with the exit status on stdout: the kernel knows
// the command ended once it has read both, and all the output before.
type shell struct {
	log           *slog.Logger
	cmd           *exec.Cmd
	pid           int
	master, slave *os.File
	tty           string
	script        *os.File
	out, errs     chan []byte
	exited        chan struct{}
	stdout        stream
	stderr        stream
}

// startShell starts bash in a session of its own (so that an interrupt
// reaches it and its commands, not the kernel, and the terminal is theirs)
// with dir holding the kernel's files (cells, completions).
func startShell(dir string, logger *slog.Logger) (*shell, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	tty, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", slave.Fd()))
	if err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("pty name: %w", err)
	}
	scriptR, scriptW, err := os.Pipe()
	if err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("bash script pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		master.Close()
		slave.Close()
		scriptR.Close()
		scriptW.Close()
		return nil, fmt.Errorf("bash stderr pipe: %w", err)
	}
	// Interactive (-i), as bash_kernel's shell, so that ~/.bashrc runs
	// whole; it still reads its commands from fd 3, without prompts.
	cmd := exec.Command("bash", "--noprofile", "-i", "/dev/fd/3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, errW
	cmd.ExtraFiles = []*os.File{scriptR}
	cmd.Env = shellEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	scriptR.Close()
	errW.Close()
	if err != nil {
		master.Close()
		slave.Close()
		scriptW.Close()
		errR.Close()
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	token := "__wod_end_" + strings.ToLower(rand.Text()[:16])
	s := &shell{
		log: logger, cmd: cmd, pid: cmd.Process.Pid,
		master: master, slave: slave, tty: tty, script: scriptW,
		out: make(chan []byte, 16), errs: make(chan []byte, 16), exited: make(chan struct{}),
		stdout: stream{marker: []byte(token + " "), withStatus: true},
		stderr: stream{marker: []byte(token + "\n")},
	}
	go s.read(master, s.out)
	go s.read(errR, s.errs)
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	// The token is printed in two halves, so that neither `declare -f` nor
	// `set` ever shows it whole and ends a cell early.
	half := len(token) / 2
	boot := fmt.Sprintf(`exec 3<&-
__wod_dir=%s
exec {__wod_out}>&1 {__wod_err}>&2
__wod_end() { trap : INT; printf '%%s%%s %%d\n' %s %s "$1" >&$__wod_out; printf '%%s%%s\n' %s %s >&$__wod_err; }
trap : INT
set +m +H
unset PROMPT_COMMAND
%s`, shellQuote(dir), token[:half], token[half:], token[:half], token[half:], displayFuncs)
	if _, err := io.WriteString(scriptW, boot); err != nil {
		s.kill()
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	return s, nil
}

// shellEnv is the kernel's environment for bash, with what bash_kernel
// sets: no pager (output is not a screen one pages through).
func shellEnv(env []string) []string {
	out := make([]string, 0, len(env)+3)
	hasTerm := false
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		switch k {
		case "PAGER", "PROMPT_COMMAND":
			continue
		case "TERM":
			hasTerm = true
		}
		out = append(out, e)
	}
	out = append(out, "PAGER=cat")
	if !hasTerm {
		out = append(out, "TERM=xterm-256color")
	}
	return out
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// read passes what r yields to ch, in chunks, until r fails.
func (s *shell) read(r io.ReadCloser, ch chan<- []byte) {
	defer close(ch)
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			ch <- append([]byte(nil), buf[:n]...)
		}
		if err != nil {
			return
		}
	}
}

// send writes a command line to the shell's script.
func (s *shell) send(line string) error {
	if _, err := io.WriteString(s.script, line+"\n"); err != nil {
		return fmt.Errorf("bash: %w", err)
	}
	return nil
}

// answer types a line on the terminal, for a command reading it.
func (s *shell) answer(line string) error {
	if _, err := io.WriteString(s.master, line+"\n"); err != nil {
		return fmt.Errorf("bash terminal: %w", err)
	}
	return nil
}

// inputPending reports whether typed input waits on the terminal, unread.
func (s *shell) inputPending() bool {
	n, err := unix.IoctlGetInt(int(s.slave.Fd()), unix.TIOCINQ)
	return err == nil && n > 0
}

// alive reports whether bash still runs.
func (s *shell) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill ends the shell and everything its cells left running in its
// session: SIGHUP as a closing terminal would, then SIGKILL.
func (s *shell) kill() {
	s.script.Close()
	signalSession(s.pid, unix.SIGHUP, false)
	signalSession(s.pid, unix.SIGCONT, false)
	select {
	case <-s.exited:
	case <-time.After(time.Second):
	}
	for range 3 {
		if len(sessionProcs(s.pid)) == 0 {
			break
		}
		signalSession(s.pid, unix.SIGKILL, false)
		time.Sleep(50 * time.Millisecond)
	}
	<-s.exited
	s.slave.Close()
	// The readers end when the terminal and the pipe close (the master
	// reports EIO once no slave is open).
	go func() {
		for range s.out {
		}
	}()
	go func() {
		for range s.errs {
		}
	}()
}

var errExited = errors.New("bash exited")
