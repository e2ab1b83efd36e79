package kernel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
	"github.com/wod-dev/wod/kernel/kerneltest"
)

// script is a tiny language for testing the protocol: each line is a
// command (print, eprint, fail, wait, input, display, result).
type script struct{ restarts int }

func (s *script) Info() kernel.Info {
	return kernel.Info{Implementation: "script", ImplementationVersion: "1", Language: kernel.LanguageInfo{Name: "script"}}
}

func (s *script) Execute(ctx context.Context, code string, out kernel.Output) error {
	for _, line := range strings.Split(code, "\n") {
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "print":
			out.Stream("stdout", arg+"\n")
		case "eprint":
			out.Stream("stderr", arg+"\n")
		case "fail":
			return &kernel.Error{Name: "Failed", Value: arg, Traceback: []string{"failed: " + arg}}
		case "wait":
			<-ctx.Done()
			return kernel.ErrInterrupted
		case "input":
			v, err := out.Input(ctx, arg, false)
			if err != nil {
				return err
			}
			out.Stream("stdout", "got "+v+"\n")
		case "display":
			out.Display(map[string]any{"text/plain": arg}, "d1", false)
		case "update":
			out.Display(map[string]any{"text/plain": arg}, "d1", true)
		case "result":
			out.Result(map[string]any{"text/plain": arg})
		case "restarts":
			out.Stream("stdout", strings.Repeat("r", s.restarts)+"\n")
		}
	}
	return nil
}

func (s *script) Complete(ctx context.Context, code string, cursor int) kernel.Completion {
	return kernel.Completion{Matches: []string{"print"}, CursorStart: 0, CursorEnd: cursor}
}

func (s *script) IsComplete(code string) (string, string) {
	if strings.HasSuffix(code, ":") {
		return "incomplete", "  "
	}
	return "complete", ""
}

func (s *script) Restart(ctx context.Context) error { s.restarts++; return nil }
func (s *script) Close() error                      { return nil }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestProtocol(t *testing.T) {
	c := kerneltest.Start(t, &script{})
	ctx := ctx(t)

	t.Run("kernel_info on shell and control", func(t *testing.T) {
		for _, ch := range []string{"shell", "control"} {
			r, err := c.Request(ctx, ch, "kernel_info_request", map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			var info struct {
				Protocol string              `json:"protocol_version"`
				Impl     string              `json:"implementation"`
				Lang     kernel.LanguageInfo `json:"language_info"`
			}
			r.Decode(&info)
			if info.Protocol != "5.3" || info.Impl != "script" || info.Lang.Name != "script" || r.Header.MsgType != "kernel_info_reply" {
				t.Errorf("%s: kernel_info_reply %s", ch, r.Content)
			}
		}
	})

	t.Run("execute", func(t *testing.T) {
		res, err := c.Execute(ctx, "print hello\neprint oops\ndisplay a\nupdate b\nresult 42", kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "ok" || res.Stdout != "hello\n" || res.Stderr != "oops\n" {
			t.Fatalf("status %q stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
		}
		var types []string
		for _, m := range res.Outputs {
			types = append(types, m.Header.MsgType)
		}
		want := "execute_input stream stream display_data update_display_data execute_result"
		if got := strings.Join(types, " "); got != want {
			t.Errorf("iopub: %s, want %s", got, want)
		}
		again, err := c.Execute(ctx, "print again", kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Count != res.Count+1 {
			t.Errorf("execution counts %d then %d", res.Count, again.Count)
		}
		silent, err := c.Execute(ctx, "print quiet", kerneltest.Options{Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(silent.Outputs) != 0 || silent.Count != again.Count {
			t.Errorf("a silent cell published %d messages, count %d", len(silent.Outputs), silent.Count)
		}
	})

	t.Run("error stops the queue", func(t *testing.T) {
		// The first cell waits for input, so that the second is queued
		// when it fails.
		first, _ := c.SendExecute("input go?\nfail boom", kerneltest.Options{})
		second, _ := c.SendExecute("print never", kerneltest.Options{})
		// Answering at once could beat the kernel's reading of the second
		// request off its socket (requests sent after a failure run).
		res, err := c.Collect(ctx, first, kerneltest.Options{Input: func(string, bool) string {
			time.Sleep(200 * time.Millisecond)
			return ""
		}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "error" || res.Error.Name != "Failed" || res.Error.Value != "boom" {
			t.Fatalf("reply %s", res.Reply.Content)
		}
		if len(res.Outputs) < 2 || res.Outputs[len(res.Outputs)-1].Header.MsgType != "error" {
			t.Errorf("no error message on iopub")
		}
		res2, err := c.Collect(ctx, second, kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res2.Status != "aborted" || res2.Stdout != "" {
			t.Errorf("the queued cell: status %q, output %q", res2.Status, res2.Stdout)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		res, err := c.Execute(ctx, "input name?", kerneltest.Options{Input: func(p string, _ bool) string { return "ada" }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stdout != "got ada\n" || len(res.Prompts) != 1 || res.Prompts[0] != "name?" {
			t.Errorf("stdout %q prompts %q", res.Stdout, res.Prompts)
		}
		res, err = c.Execute(ctx, "input name?", kerneltest.Options{NoStdin: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "error" || len(res.Prompts) != 0 {
			t.Errorf("without stdin: status %q, prompts %q", res.Status, res.Prompts)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		req, _ := c.SendExecute("print started\nwait", kerneltest.Options{})
		if _, err := c.IOPub(ctx, req, func(m kernel.Message) bool { return m.Header.MsgType == "stream" }); err != nil {
			t.Fatal(err)
		}
		if err := c.Interrupt(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := c.Collect(ctx, req, kerneltest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "error" || res.Error.Name != "Interrupted" {
			t.Errorf("interrupted cell: %s", res.Reply.Content)
		}
	})

	t.Run("complete and is_complete", func(t *testing.T) {
		r, err := c.Request(ctx, "shell", "complete_request", map[string]any{"code": "pr", "cursor_pos": 2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Content), `"matches":["print"]`) {
			t.Errorf("complete_reply %s", r.Content)
		}
		r, err = c.Request(ctx, "shell", "is_complete_request", map[string]any{"code": "if:"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Content), `"incomplete"`) {
			t.Errorf("is_complete_reply %s", r.Content)
		}
		for _, typ := range []string{"inspect_request", "history_request", "comm_info_request"} {
			if _, err := c.Request(ctx, "shell", typ, map[string]any{}); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bad signature ignored", func(t *testing.T) {
		bad, err := kernel.NewMessage(c.Session, "execute_request", kernel.Message{}, map[string]any{"code": "print forged"})
		if err != nil {
			t.Fatal(err)
		}
		frames, _ := c.Signer().Encode(bad)
		frames[1] = []byte(strings.Repeat("0", 64))
		if err := c.SendFrames("shell", frames); err != nil {
			t.Fatal(err)
		}
		// The kernel answers the next good request, and never the forged one.
		res, err := c.Execute(ctx, "print genuine", kerneltest.Options{})
		if err != nil || res.Stdout != "genuine\n" {
			t.Fatalf("after a forged message: %v %+v", err, res)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := c.Reply(short, "shell", bad); err == nil {
			t.Error("the kernel answered a badly signed request")
		}
	})

	t.Run("restart", func(t *testing.T) {
		r, err := c.Shutdown(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Content), `"restart":true`) {
			t.Errorf("shutdown_reply %s", r.Content)
		}
		res, err := c.Execute(ctx, "restarts", kerneltest.Options{})
		if err != nil || res.Stdout != "r\n" || res.Count != 1 {
			t.Errorf("after restart: %v stdout %q count %d", err, res.Stdout, res.Count)
		}
	})
}

func TestShutdown(t *testing.T) {
	ci, err := kerneltest.FreeConnection()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctx(t)
	done := make(chan error, 1)
	go func() { done <- kernel.Serve(ctx, ci, &script{}, nil) }()
	c, err := kerneltest.Dial(ctx, ci)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Shutdown(ctx, false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after shutdown_request")
	}
}
