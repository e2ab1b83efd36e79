package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
	"github.com/wod-dev/wod/kernel/kerneltest"
	"github.com/wod-dev/wod/testenv"
)

// TestKernelCommand runs `wod kernel bash` as a notebook server does and
// interrupts a cell with SIGINT, which must not end the kernel.
func TestKernelCommand(t *testing.T) {
	testenv.Command(t, testenv.RequireRoot, "bash", "the bash package")
	c, cmd := kerneltest.StartCommand(t, binary, "kernel", "bash")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if res, err := c.Execute(ctx, "X=1; echo ready", kerneltest.Options{}); err != nil || res.Stdout != "ready\n" {
		t.Fatalf("first cell: %v %+v", err, res)
	}
	req, err := c.SendExecute("echo started; sleep 100; echo never", kerneltest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IOPub(ctx, req, func(m kernel.Message) bool { return m.Header.MsgType == "stream" }); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res, err := c.Collect(ctx, req, kerneltest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "error" || strings.Contains(res.Stdout, "never") {
		t.Errorf("after SIGINT: %s, stdout %q", res.Reply.Content, res.Stdout)
	}
	if res, err := c.Execute(ctx, "echo $X", kerneltest.Options{}); err != nil || res.Stdout != "1\n" {
		t.Fatalf("after SIGINT the kernel or its shell is gone: %v %+v", err, res)
	}
	if _, err := c.Shutdown(ctx, false); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("wod kernel after shutdown_request: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("wod kernel did not exit after shutdown_request")
	}
}

func TestKernelUnknown(t *testing.T) {
	var stderr strings.Builder
	if code := run(context.Background(), []string{"kernel", "cobol", "-f", "/nonexistent"}, func(string) string { return "" }, strings.NewReader(""), &stderr, &stderr); code == 0 || !strings.Contains(stderr.String(), `no kernel "cobol"`) {
		t.Errorf("exit %d, %s", code, stderr.String())
	}
}

// jupyterPython is a Python with Debian's jupyter_client, or "".
func jupyterPython() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import jupyter_client").Run() == nil {
			return p
		}
	}
	return ""
}

// clientScript drives the kernel with jupyter_client, as a notebook
// server does: its kernel manager starts it from the kernelspec and
// interrupts it with SIGINT.
const clientScript = `
import json, sys
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name="bash", startup_timeout=60)
out = {}
def run(code, answer=None):
    res = {"stdout": "", "stderr": ""}
    def hook(msg):
        if msg["msg_type"] == "stream":
            res[msg["content"]["name"]] += msg["content"]["text"]
    def stdin_hook(msg):
        res["prompt"] = msg["content"]["prompt"]
        kc.input(answer)
    reply = kc.execute_interactive(code, timeout=60, output_hook=hook, allow_stdin=answer is not None,
                                   stdin_hook=stdin_hook if answer is not None else None)
    res["status"] = reply["content"]["status"]
    res["evalue"] = reply["content"].get("evalue")
    return res
try:
    out["info"] = kc.kernel_info(reply=True, timeout=30)["content"]["language_info"]["name"]
    out["set"] = run("cd /tmp && X=7")
    out["get"] = run("echo $X $PWD; echo oops >&2")
    out["error"] = run("ls /nonexistent-wod")
    out["input"] = run("read -p 'name: ' n; echo hi $n", answer="ada")
    out["bash"] = run("echo $$")["stdout"].strip()
    msg_id = kc.execute("echo started; sleep 100; echo never")
    while True:
        m = kc.get_iopub_msg(timeout=30)
        if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream":
            break
    km.interrupt_kernel()
    while True:
        r = kc.get_shell_msg(timeout=30)
        if r["parent_header"].get("msg_id") == msg_id:
            out["interrupted"] = r["content"]["status"]
            break
    out["after"] = run("echo $X")
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    out["alive"] = km.is_alive()
print(json.dumps(out))
`

// TestJupyterClient runs `wod kernel bash` under Debian's jupyter_client
// from a kernelspec, as a notebook server starts it.
func TestJupyterClient(t *testing.T) {
	py := jupyterPython()
	if py == "" {
		testenv.Missing(t, testenv.RequireRoot, "python3 jupyter_client is not installed (apt-get install python3-jupyter-client; jupyterhub brings it)")
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "kernels", "bash")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		t.Fatal(err)
	}
	kj, _ := json.Marshal(map[string]any{
		"argv":           []string{binary, "kernel", "bash", "-f", "{connection_file}"},
		"display_name":   "Bash",
		"language":       "bash",
		"interrupt_mode": "signal",
	})
	if err := os.WriteFile(filepath.Join(spec, "kernel.json"), kj, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", clientScript)
	cmd.Env = append(os.Environ(), "JUPYTER_PATH="+dir, "JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"),
		"JUPYTER_DATA_DIR="+filepath.Join(dir, "data"), "JUPYTER_CONFIG_DIR="+filepath.Join(dir, "config"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("jupyter_client: %v\n%s", err, stderr.String())
	}
	t.Logf("jupyter_client's log:\n%s", stderr.String())
	type run struct {
		Stdout, Stderr, Status, Evalue, Prompt string
	}
	var out struct {
		Info                   string
		Set, Get, Error, Input run
		After                  run
		Bash, Interrupted      string
		Alive                  bool
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if out.Info != "bash" || out.Set.Status != "ok" || out.Get.Stdout != "7 /tmp\n" || out.Get.Stderr != "oops\n" {
		t.Errorf("cells: %+v", out)
	}
	if out.Error.Status != "error" || out.Error.Evalue != "2" {
		t.Errorf("a failing cell: %+v", out.Error)
	}
	if out.Input.Stdout != "hi ada\n" || out.Input.Prompt != "name: " {
		t.Errorf("a cell reading input: %+v", out.Input)
	}
	if out.Interrupted != "error" || out.After.Stdout != "7\n" {
		t.Errorf("interrupt: reply %q, then %+v", out.Interrupted, out.After)
	}
	if out.Alive {
		t.Error("the kernel still runs after shutdown")
	}
	if pid, err := strconv.Atoi(out.Bash); err != nil {
		t.Errorf("bash's pid: %q", out.Bash)
	} else if syscall.Kill(pid, 0) == nil {
		t.Errorf("the kernel's bash (pid %d) outlived it", pid)
	}
}
