package bash_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
	"github.com/wod-dev/wod/kernel/bash"
	"github.com/wod-dev/wod/kernel/kerneltest"
	"github.com/wod-dev/wod/testenv"
)

func start(t *testing.T) (*kerneltest.Client, context.Context) {
	t.Helper()
	testenv.Command(t, testenv.RequireRoot, "bash", "the bash package")
	// A home of the test's own: the kernel's shell reads ~/.bashrc as an
	// interactive shell does (Debian's returns at once otherwise).
	home := t.TempDir()
	rc := "case $- in *i*) ;; *) return;; esac\nexport FROM_BASHRC=yes\nalias hello='echo hello from an alias'\n"
	if err := os.WriteFile(filepath.Join(home, ".bashrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	in, err := bash.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return kerneltest.Start(t, in), ctx
}

func run(t *testing.T, c *kerneltest.Client, ctx context.Context, code string, o kerneltest.Options) *kerneltest.Result {
	t.Helper()
	res, err := c.Execute(ctx, code, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestBash(t *testing.T) {
	c, ctx := start(t)
	dir := t.TempDir()

	t.Run("state survives cells", func(t *testing.T) {
		run(t, c, ctx, "cd "+dir+"\nX=42\ndeclare -A M=([k]=v)\ngreet() { echo \"hello $1\"; }", kerneltest.Options{})
		res := run(t, c, ctx, "pwd; echo $X ${M[k]}; greet you", kerneltest.Options{})
		if want := dir + "\n42 v\nhello you\n"; res.Status != "ok" || res.Stdout != want {
			t.Fatalf("status %q stdout %q, want %q", res.Status, res.Stdout, want)
		}
	})

	t.Run("bashrc", func(t *testing.T) {
		res := run(t, c, ctx, "echo $FROM_BASHRC\nhello\necho \"no history expansion!\"", kerneltest.Options{})
		if want := "yes\nhello from an alias\nno history expansion!\n"; res.Stdout != want || res.Stderr != "" {
			t.Errorf("stdout %q stderr %q, want %q", res.Stdout, res.Stderr, want)
		}
	})

	t.Run("stderr and exit status", func(t *testing.T) {
		res := run(t, c, ctx, "echo out; echo err >&2; false", kerneltest.Options{NoStopOnErr: true})
		if res.Stdout != "out\n" || res.Stderr != "err\n" {
			t.Errorf("stdout %q stderr %q", res.Stdout, res.Stderr)
		}
		if res.Status != "error" || res.Error.Name != "" || res.Error.Value != "1" {
			t.Errorf("reply %s", res.Reply.Content)
		}
		res = run(t, c, ctx, "ls /nonexistent-wod", kerneltest.Options{NoStopOnErr: true})
		if res.Status != "error" || res.Error.Value != "2" || !strings.Contains(res.Stderr, "nonexistent-wod") {
			t.Errorf("ls: reply %s stderr %q", res.Reply.Content, res.Stderr)
		}
		if res := run(t, c, ctx, "echo 'unclosed", kerneltest.Options{NoStopOnErr: true}); res.Status != "error" {
			t.Errorf("an unclosed quote: %s", res.Reply.Content)
		}
		if res := run(t, c, ctx, "echo still here", kerneltest.Options{}); res.Stdout != "still here\n" {
			t.Errorf("after errors: %q", res.Stdout)
		}
	})

	t.Run("a terminal, heredocs, streaming", func(t *testing.T) {
		res := run(t, c, ctx, "[ -t 0 ] && [ -t 1 ] && echo tty\ncat <<EOF\nline $((1+1))\nEOF\nprintf 'no newline'", kerneltest.Options{})
		if res.Stdout != "tty\nline 2\nno newline" {
			t.Errorf("stdout %q", res.Stdout)
		}
		req, err := c.SendExecute("echo first; read -t 30 x </dev/null; sleep 30; echo never", kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The first line arrives while the cell still runs.
		m, err := c.IOPub(ctx, req, func(m kernel.Message) bool { return m.Header.MsgType == "stream" })
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Content), "first") {
			t.Errorf("first output %s", m.Content)
		}
		if err := c.Interrupt(ctx); err != nil {
			t.Fatal(err)
		}
		res, err = c.Collect(ctx, req, kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "error" || strings.Contains(res.Stdout, "never") {
			t.Errorf("interrupted: reply %s stdout %q", res.Reply.Content, res.Stdout)
		}
		if res := run(t, c, ctx, "echo $X", kerneltest.Options{}); res.Stdout != "42\n" {
			t.Errorf("the shell did not survive the interrupt: %q", res.Stdout)
		}
	})

	t.Run("long and binary output", func(t *testing.T) {
		res := run(t, c, ctx, "seq 1 200000; head -c 100000 /dev/urandom; echo; echo end", kerneltest.Options{})
		if res.Status != "ok" || !strings.HasPrefix(res.Stdout, "1\n2\n") || !strings.HasSuffix(res.Stdout, "\nend\n") || !strings.Contains(res.Stdout, "\n200000\n") {
			t.Errorf("status %q, %d bytes of output", res.Status, len(res.Stdout))
		}
	})

	t.Run("input", func(t *testing.T) {
		res := run(t, c, ctx, "read -p 'Your name: ' name; echo \"hi $name\"", kerneltest.Options{
			Input: func(prompt string, password bool) string { return "ada" },
		})
		if res.Status != "ok" || res.Stdout != "hi ada\n" || len(res.Prompts) != 1 || res.Prompts[0] != "Your name: " {
			t.Errorf("status %q stdout %q prompts %q", res.Status, res.Stdout, res.Prompts)
		}
		res = run(t, c, ctx, "read -p 'Password: ' -s x </dev/tty; echo \"got $x\"", kerneltest.Options{
			Input: func(prompt string, password bool) string {
				if !password {
					t.Errorf("prompt %q: not a password", prompt)
				}
				return "secret"
			},
		})
		if res.Status != "ok" || res.Stdout != "got secret\n" {
			t.Errorf("reading /dev/tty: status %q stdout %q", res.Status, res.Stdout)
		}
		res = run(t, c, ctx, "read x; echo got $x", kerneltest.Options{NoStdin: true, NoStopOnErr: true})
		if res.Status != "error" || res.Error.Name != "StdinNotImplementedError" || strings.Contains(res.Stdout, "got") {
			t.Errorf("without stdin: reply %s stdout %q", res.Reply.Content, res.Stdout)
		}
	})

	t.Run("display", func(t *testing.T) {
		res := run(t, c, ctx, "printf '\\x89PNG\\r\\n\\x1a\\n0000' | display\necho '<b>1</b>' | displayHTML d1\necho '<b>2</b>' | displayHTML d1\necho done >&2", kerneltest.Options{})
		var got []string
		for _, m := range res.Outputs {
			if m.Header.MsgType == "stream" || m.Header.MsgType == "execute_input" {
				continue
			}
			var content struct {
				Data map[string]any `json:"data"`
			}
			m.Decode(&content)
			for mime := range content.Data {
				got = append(got, m.Header.MsgType+" "+mime)
			}
		}
		want := []string{"display_data image/png", "display_data text/html", "update_display_data text/html"}
		if !slices.Equal(got, want) || res.Stderr != "done\n" {
			t.Errorf("outputs %q, stderr %q; want %q", got, res.Stderr, want)
		}
	})

	t.Run("completion", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
		for _, tc := range []struct {
			code string
			want string
		}{
			{"ech", "echo"},
			{"gre", "greet"},
			{"echo $HO", "$HOME"},
			{"cat not", "notes.txt"},
			{"ls /us", "/usr/"},
		} {
			r, err := c.Request(ctx, "shell", "complete_request", map[string]any{"code": tc.code, "cursor_pos": len(tc.code)})
			if err != nil {
				t.Fatal(err)
			}
			var reply struct {
				Matches []string `json:"matches"`
				Start   int      `json:"cursor_start"`
			}
			r.Decode(&reply)
			if !slices.Contains(reply.Matches, tc.want) {
				t.Errorf("%q: matches %q, want %q among them", tc.code, reply.Matches, tc.want)
			}
		}
	})

	t.Run("is_complete", func(t *testing.T) {
		for code, want := range map[string]string{
			"echo hi":             "complete",
			"echo 'open":          "incomplete",
			"if true; then echo":  "incomplete",
			"for x in 1; do echo": "incomplete",
			"fi":                  "invalid",
		} {
			r, err := c.Request(ctx, "shell", "is_complete_request", map[string]any{"code": code})
			if err != nil {
				t.Fatal(err)
			}
			var reply struct {
				Status string `json:"status"`
			}
			r.Decode(&reply)
			if reply.Status != want {
				t.Errorf("%q: %q, want %q", code, reply.Status, want)
			}
		}
	})

	t.Run("exit restarts", func(t *testing.T) {
		res := run(t, c, ctx, "exit 3", kerneltest.Options{NoStopOnErr: true})
		if res.Status != "error" || res.Error.Value != "3" {
			t.Errorf("exit 3: %s", res.Reply.Content)
		}
		if res := run(t, c, ctx, "echo ${X:-unset}", kerneltest.Options{}); res.Stdout != "unset\n" {
			t.Errorf("after exit: %q", res.Stdout)
		}
	})

	t.Run("restart clears state", func(t *testing.T) {
		run(t, c, ctx, "Y=1", kerneltest.Options{})
		if _, err := c.Shutdown(ctx, true); err != nil {
			t.Fatal(err)
		}
		if res := run(t, c, ctx, "echo ${Y:-unset}", kerneltest.Options{}); res.Stdout != "unset\n" {
			t.Errorf("after restart: %q", res.Stdout)
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
