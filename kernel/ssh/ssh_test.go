package ssh

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// recorder is the notebook's side of a cell: what it was shown, and the
// answers it gives to input requests.
type recorder struct {
	mu      sync.Mutex
	stdout  strings.Builder
	stderr  strings.Builder
	prompts []string
	secret  []bool
	answers []string
	seen    chan string // every stream text, when set
}

func (r *recorder) Stream(name, text string) {
	r.mu.Lock()
	if name == "stderr" {
		r.stderr.WriteString(text)
	} else {
		r.stdout.WriteString(text)
	}
	r.mu.Unlock()
	if r.seen != nil {
		r.seen <- text
	}
}
func (r *recorder) Display(map[string]any, string, bool) {}
func (r *recorder) Result(map[string]any)                {}
func (r *recorder) Input(ctx context.Context, prompt string, password bool) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prompts = append(r.prompts, prompt)
	r.secret = append(r.secret, password)
	if len(r.answers) == 0 {
		return "", kernel.ErrNoStdin
	}
	a := r.answers[0]
	r.answers = r.answers[1:]
	return a, nil
}

func (r *recorder) out() string { r.mu.Lock(); defer r.mu.Unlock(); return r.stdout.String() }
func (r *recorder) err() string { r.mu.Lock(); defer r.mu.Unlock(); return r.stderr.String() }

// cell runs code with a fresh recorder.
func cell(t *testing.T, in *Interpreter, code string) (*recorder, error) {
	t.Helper()
	r := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r, in.Execute(ctx, code, r)
}

// ok runs code, which must succeed, and returns its stdout.
func ok(t *testing.T, in *Interpreter, code string) string {
	t.Helper()
	r, err := cell(t, in, code)
	if err != nil {
		t.Fatalf("%q: %v\nstdout: %s\nstderr: %s", code, err, r.out(), r.err())
	}
	return r.out()
}

func kernelError(t *testing.T, err error, name string) *kernel.Error {
	t.Helper()
	var ke *kernel.Error
	if !errors.As(err, &ke) || ke.Name != name {
		t.Fatalf("error %v (%T), want a kernel.Error %q", err, err, name)
	}
	return ke
}

// newInterpreter is the kernel of a student whose home is a fresh
// directory.
func newInterpreter(t *testing.T, home, agent string) *Interpreter {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := New(Options{Home: home, AgentSocket: agent, User: "nobody-local", LoginTimeout: 20 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func TestKeyLoginRunsCellsInOnePersistentShell(t *testing.T) {
	s := startSSHD(t)
	home := t.TempDir()
	s.authorize(newKey(t, filepath.Join(home, ".ssh", "id_ed25519")))
	in := newInterpreter(t, home, "")

	// %param values are exported, and replace {NAME} in %login.
	r, err := cell(t, in, "%param TARGET "+s.login()+"\n%login {TARGET}")
	if err != nil {
		t.Fatalf("login: %v\n%s%s", err, r.out(), r.err())
	}
	if !strings.Contains(r.out(), "[ssh] Successfully logged in.") {
		t.Errorf("login said %q", r.out())
	}
	if !strings.Contains(r.err(), "Permanently added '[127.0.0.1]:") {
		t.Errorf("the new host key was not announced: %q", r.err())
	}
	if kh, _ := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts")); !strings.Contains(string(kh), "[127.0.0.1]:") {
		t.Errorf("known_hosts: %q", kh)
	}

	ok(t, in, "cd /tmp\nX=42\nf() { echo \"f:$1\"; }\n")
	if got := ok(t, in, "pwd; echo $X; f a; whoami"); got != "/tmp\n42\nf:a\n"+s.user+"\n" {
		t.Errorf("state across cells: %q", got)
	}
	// Quotes, here documents and a command reading stdin (it gets
	// /dev/null, not the next cells).
	if got := ok(t, in, "cat <<EOF\n'q' \"$X\" \\$\nEOF\ncat; echo done"); got != "'q' \"42\" $\ndone\n" {
		t.Errorf("here document: %q", got)
	}

	if got := ok(t, in, "echo $TARGET"); got != s.login()+"\n" {
		t.Errorf("%%param: %q", got)
	}
	if c := in.Complete(context.Background(), "ech", 3); !slices.Contains(c.Matches, "echo") || c.CursorStart != 0 || c.CursorEnd != 3 {
		t.Errorf("completion of ech: %+v", c)
	}
	if c := in.Complete(context.Background(), "echo $TAR", 9); !slices.Equal(c.Matches, []string{"$TARGET"}) || c.CursorStart != 5 {
		t.Errorf("completion of $TAR: %+v", c)
	}

	r, err = cell(t, in, "echo out; echo oops >&2")
	if err != nil || r.out() != "out\n" || r.err() != "oops\n" {
		t.Errorf("stderr: %v, stdout %q, stderr %q", err, r.out(), r.err())
	}

	_, err = cell(t, in, "echo before; false")
	if ke := kernelError(t, err, "abnormal exit code"); ke.Value != "1" {
		t.Errorf("exit status: %q", ke.Value)
	}
	_, err = cell(t, in, "(exit 7)")
	if ke := kernelError(t, err, "abnormal exit code"); ke.Value != "7" {
		t.Errorf("exit status: %q", ke.Value)
	}

	// exit ends the shell; the next cell gets a new one.
	_, err = cell(t, in, "exit 3")
	if ke := kernelError(t, err, "abnormal exit code"); ke.Value != "3" {
		t.Errorf("exit 3: %q", ke.Value)
	}
	if got := ok(t, in, "pwd; echo \"[$X]\""); got != s.home+"\n[]\n" {
		t.Errorf("after exit, a new shell: %q", got)
	}

	r, err = cell(t, in, "%logout")
	if err != nil || !strings.Contains(r.out(), "[ssh] Successfully logged out.") {
		t.Errorf("logout: %v %q", err, r.out())
	}
	r, err = cell(t, in, "echo hi")
	kernelError(t, err, "abort")
	if !strings.Contains(r.err(), "%login") {
		t.Errorf("after logout: %q", r.err())
	}
}

func TestPasswordLoginAsksThroughInput(t *testing.T) {
	s := startSSHD(t)
	in := newInterpreter(t, t.TempDir(), "")

	// A front end without stdin: the login fails and says why.
	r, err := cell(t, in, "%login "+s.login())
	kernelError(t, err, "SSHConnectionError")
	if !strings.Contains(r.err(), "Login to 127.0.0.1 failed") || !strings.Contains(r.err(), "no stdin") {
		t.Errorf("without stdin: %q", r.err())
	}

	// A wrong password first, then the right one.
	r = &recorder{answers: []string{"wrong", s.password}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := in.Execute(ctx, "%login "+s.login()+"\nwhoami", r); err != nil {
		t.Fatalf("password login: %v\n%s%s", err, r.out(), r.err())
	}
	if len(r.prompts) != 2 || !strings.Contains(r.prompts[0], s.user+"@127.0.0.1's password") || !r.secret[0] {
		t.Errorf("input requests: %q (password %v)", r.prompts, r.secret)
	}
	if !strings.HasSuffix(r.out(), s.user+"\n") {
		t.Errorf("after the login in the same cell: %q", r.out())
	}
}

func TestLoginThroughSSHConfigAndAgent(t *testing.T) {
	s := startSSHD(t)
	home := t.TempDir()
	s.authorize(newKey(t, filepath.Join(home, ".ssh", "labkey")))
	writeFile(t, filepath.Join(home, ".ssh", "config"), `# the lab
Host other
    User someone
Host lab lab2 !nolab
    HostName 127.0.0.1
    User `+s.user+`
    Port `+itoa(s.port)+`
    IdentityFile ~/.ssh/labkey
Host *
    Port 2222
`, 0o600)
	in := newInterpreter(t, home, "")
	r, err := cell(t, in, "%login lab")
	if err != nil {
		t.Fatalf("login by alias: %v\n%s%s", err, r.out(), r.err())
	}
	if !strings.Contains(r.out(), "hostname=127.0.0.1 user="+s.user) {
		t.Errorf("login said %q", r.out())
	}
	if got := ok(t, in, "whoami"); got != s.user+"\n" {
		t.Errorf("whoami: %q", got)
	}

	// A changed host key is refused, with the way out.
	writeFile(t, filepath.Join(home, ".ssh", "known_hosts"),
		"[127.0.0.1]:"+itoa(s.port)+" "+strings.TrimSpace(string(marshalKey(t, newKey(t, filepath.Join(t.TempDir(), "k")))))+"\n", 0o600)
	r, err = cell(t, in, "%login lab")
	kernelError(t, err, "SSHConnectionError")
	if !strings.Contains(r.err(), "has changed") || !strings.Contains(r.err(), "ssh-keygen -R") {
		t.Errorf("changed host key: %q", r.err())
	}
	if _, err := cell(t, in, "whoami"); err == nil {
		t.Error("a failed login left a connection")
	}
	os.Remove(filepath.Join(home, ".ssh", "known_hosts"))

	// The agent's key, when the home has none.
	sock := serveAgent(t, s)
	in2 := newInterpreter(t, t.TempDir(), sock)
	if r, err := cell(t, in2, "%login "+s.login()); err != nil {
		t.Fatalf("agent login: %v\n%s%s", err, r.out(), r.err())
	}
}

func TestInterruptStopsTheCellAndKeepsTheShell(t *testing.T) {
	s := startSSHD(t)
	home := t.TempDir()
	s.authorize(newKey(t, filepath.Join(home, ".ssh", "id_ed25519")))
	in := newInterpreter(t, home, "")
	ok(t, in, "%login "+s.login())
	ok(t, in, "X=7; cd /tmp")

	r := interrupt(t, in, "echo started; sleep 100; echo after")
	if strings.Contains(r.out(), "after") || strings.Contains(r.err(), "new one") {
		t.Errorf("interrupt: stdout %q stderr %q", r.out(), r.err())
	}
	if got := ok(t, in, "echo $X; pwd; pgrep -x -u $(id -u) sleep || echo no sleep"); got != "7\n/tmp\nno sleep\n" {
		t.Errorf("after the interrupt: %q", got)
	}

	// A server that ignores signal requests: the kernel sends SIGINT
	// from a second channel.
	in.current().shell.noSignalRequest = true
	r = interrupt(t, in, "echo started; sleep 100; echo after")
	if strings.Contains(r.out(), "after") {
		t.Errorf("interrupt without signal requests: %q", r.out())
	}
	if got := ok(t, in, "echo $X"); got != "7\n" {
		t.Errorf("after the second interrupt: %q", got)
	}

	// A cell that ignores SIGINT: the shell is given up, the next cell
	// gets a new one.
	r = interrupt(t, in, "echo started; (trap '' INT; sleep 100)")
	if !strings.Contains(r.err(), "did not stop on interrupt") {
		t.Errorf("a cell ignoring SIGINT: %q", r.err())
	}
	r, err := cell(t, in, "echo \"[$X]\"")
	if err != nil || r.out() != "[]\n" || !strings.Contains(r.err(), "Started a new shell") {
		t.Errorf("after the shell was given up: %v %q %q", err, r.out(), r.err())
	}
}

// interrupt runs code, which must print "started", interrupts it then, and
// checks that it ends with kernel.ErrInterrupted.
func interrupt(t *testing.T, in *Interpreter, code string) *recorder {
	t.Helper()
	r := &recorder{seen: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.Execute(ctx, code, r) }()
	for !strings.Contains(r.out(), "started") {
		select {
		case <-r.seen:
		case err := <-done:
			t.Fatalf("the cell ended before the interrupt: %v", err)
		case <-time.After(time.Minute):
			t.Fatal("the cell did not start")
		}
	}
	// Interrupt the sleep itself: a SIGINT that comes while bash forks
	// it reaches the copy of the shell, not sleep (a window of
	// microseconds that a student pressing stop does not hit, and that
	// the kernel covers by signalling again after signalGrace).
	go func() {
		for range r.seen {
		}
	}()
	for deadline := time.Now().Add(time.Minute); exec.Command("pgrep", "-u", itoa(testUID), "-x", "sleep").Run() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("no sleep is running")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, kernel.ErrInterrupted) {
			t.Fatalf("interrupted cell: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the interrupted cell did not end")
	}
	return r
}

func TestConnectionLostThenLoginAgain(t *testing.T) {
	s := startSSHD(t)
	home := t.TempDir()
	s.authorize(newKey(t, filepath.Join(home, ".ssh", "id_ed25519")))
	in := newInterpreter(t, home, "")
	ok(t, in, "%login "+s.login())
	ok(t, in, "echo one")

	s.dropConnections()
	r, err := cell(t, in, "echo two")
	kernelError(t, err, "SSHConnectionError")
	if !strings.Contains(r.err(), "lost") || !strings.Contains(r.err(), "%login") {
		t.Errorf("lost connection: %q", r.err())
	}
	if _, err := cell(t, in, "echo three"); err == nil {
		t.Error("a cell ran on a lost connection")
	}
	if got := ok(t, in, "%login "+s.login()+"\necho four"); !strings.HasSuffix(got, "four\n") {
		t.Errorf("after a new login: %q", got)
	}
}

func TestUseBeforeLogin(t *testing.T) {
	in := newInterpreter(t, t.TempDir(), "")
	r, err := cell(t, in, "ls")
	ke := kernelError(t, err, "abort")
	if !strings.Contains(r.err(), "%login user@host") || len(ke.Traceback) == 0 {
		t.Errorf("before login: %q %+v", r.err(), ke)
	}
	if _, err := cell(t, in, "%logout\n"); err != nil {
		t.Errorf("logout when logged out: %v", err)
	}
	r, err = cell(t, in, "%cd /tmp")
	kernelError(t, err, "UsageError")
	if !strings.Contains(r.err(), "%login") {
		t.Errorf("unknown magic: %q", r.err())
	}
	if _, err := cell(t, in, "%param NAME bad'value"); err == nil {
		t.Error("a param value with a quote was accepted")
	}
}

// testWriter sends the kernel's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
