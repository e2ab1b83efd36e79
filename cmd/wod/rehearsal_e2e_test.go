package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/testenv"
)

// rehearsalSeat is the first seat the rehearsal test's wod up gives: its
// own range, far from a running wod up's and from the other tests' (the
// agent package's tests, which may run at the same time, have student9101…).
const rehearsalSeat = 9951

// TestRehearsalOnRealHub rehearses on a real wod up with a managed
// JupyterHub: the sample workshop passes end to end, with the completion
// measured at cleanup at 100 %; a workshop made to fail is reported at the
// exact cells — Python's 1/0, a cell reading input, a cell sleeping past the
// timeout, a bash cell exiting non-zero, and an ssh notebook logged in to a
// real sshd on loopback, through wod's own bash and ssh kernels.
func TestRehearsalOnRealHub(t *testing.T) {
	testenv.HubHost(t, "this test creates Unix accounts and runs a JupyterHub")
	sshdPort := startTestSSHD(t)
	// The kernelspecs go off Jupyter's path, in a directory the students'
	// servers can read (t.TempDir's parent is root's alone).
	top, err := os.MkdirTemp("", "wod-kernels")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o755)
	t.Cleanup(func() { os.RemoveAll(top) })
	specs := filepath.Join(top, "kernels")
	// The kernels run as the student: the test's wod binary sits in a
	// directory of root's alone, so they get a copy they can run, as an
	// installed /usr/local/bin/wod is.
	kernelBinary := filepath.Join(top, "wod")
	if out, err := exec.Command("cp", binary, kernelBinary).CombinedOutput(); err != nil {
		t.Fatalf("copy wod: %v: %s", err, out)
	}

	failing := map[string]string{
		"WKSHP-RehearsalCheck/wod.yml": strings.Join([]string{
			"name: 'Rehearsal check'",
			"description: 'Cells made to fail, for the rehearsal test.'",
			"active: true", "capacity: 3", "priority: 2",
			fmt.Sprintf("range: [%d,%d]", rehearsalSeat, rehearsalSeat+2),
			"duration: 2", ""}, "\n"),
		"WKSHP-RehearsalCheck/1-Python.ipynb": notebookJSON("python3", "python",
			codeCell(`print("ok")`),
			codeCell(`1/0`),
			markdownCell("Some text between the cells."),
			codeCell(`n = int(input("n? "))`+"\n"+`print(n + 1)`),
			codeCell(`import time`+"\n"+`time.sleep(600)`),
			codeCell(`print("after the timeout")`),
			taggedCell(`raise SystemExit("must not run")`, "skip-rehearsal"),
		),
		"WKSHP-RehearsalCheck/2-Shell.ipynb": notebookJSON("bash", "bash",
			codeCell(`cd /tmp && GREETING=hello`),
			codeCell(`echo "$GREETING from $(pwd)"`),
			codeCell(`ls /no/such/dir`),
			// The student's key (the seat may have one already) lets them in
			// to the lab host, here their own account through the test's sshd.
			codeCell(`mkdir -p ~/.ssh && { test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519; } && cat ~/.ssh/id_ed25519.pub >> ~/.ssh/authorized_keys && echo key ready`),
		),
		"WKSHP-RehearsalCheck/3-Remote.ipynb": notebookJSON("ssh", "bash",
			codeCell(fmt.Sprintf("%%login student{{ STDID }}@127.0.0.1:%d", sshdPort)),
			codeCell(`cd /tmp; echo "remote $(whoami)"`),
			codeCell(`pwd`),
			codeCell(`false`),
		),
	}
	p, _, _ := startRealPlatformContent(t, rehearsalSeat, map[string]string{}, failing,
		"--kernelspec-dir", specs, "--kernel-binary", kernelBinary, "--rehearse-cell-timeout", "20s")
	defer p.stop()

	// The sample passes, and cleanup measured 100 %: through the CLI, which
	// prints the table and exits 0.
	code, out, errOut := runWod(t, "", "workshop", "rehearse", "WKSHP-Welcome101", "--server", p.base, "--token", p.admin)
	if code != 0 || !strings.Contains(out, "WKSHP-Welcome101: rehearsal") || !strings.Contains(out, "passed, completion 100 %") ||
		strings.Contains(out, "error") {
		t.Fatalf("the sample's rehearsal: %d\n%s\n%s\n%s", code, out, errOut, p.logs)
	}

	// The failing workshop: the CLI exits 1, and its JSON says which cells.
	code, out, errOut = runWod(t, "", "workshop", "rehearse", "WKSHP-RehearsalCheck", "--json", "--server", p.base, "--token", p.admin)
	var reports []rehearsalReport
	if err := json.Unmarshal([]byte(out), &reports); err != nil || code != 1 || len(reports) != 1 {
		t.Fatalf("rehearse --json: %d %v\n%s\n%s\n%s", code, err, out, errOut, p.logs)
	}
	r := reports[0]
	if r.State != "failed" || len(r.Notebooks) != 3 {
		t.Fatalf("the failing workshop's rehearsal: %+v\n%s", r, p.logs)
	}
	want := map[string][]struct {
		index  int
		status string
		ename  string
		output string
	}{
		"1-Python.ipynb": {
			{0, "ok", "", "ok"},
			{1, "error", "ZeroDivisionError", ""},
			{3, "answered-input", "", "2"},
			{4, "timeout", "", ""},
			{5, "ok", "", "after the timeout"},
			{6, "skipped", "", ""},
		},
		"2-Shell.ipynb": {
			{0, "ok", "", ""},
			{1, "ok", "", "hello from /tmp"},
			{2, "error", "", "No such file or directory"},
			{3, "ok", "", "key ready"},
		},
		"3-Remote.ipynb": {
			{0, "ok", "", ""},
			{1, "ok", "", "remote student"},
			{2, "ok", "", "/tmp"},
			{3, "error", "", ""},
		},
	}
	for _, nb := range r.Notebooks {
		cells, ok := want[nb.Path]
		if !ok {
			t.Errorf("unexpected notebook %q", nb.Path)
			continue
		}
		if nb.Error != "" || len(nb.Cells) != len(cells) {
			t.Errorf("%s: error %q, %d cells, want %d: %+v", nb.Path, nb.Error, len(nb.Cells), len(cells), nb.Cells)
			continue
		}
		for i, w := range cells {
			c := nb.Cells[i]
			if c.Index != w.index || c.Status != w.status || (w.ename != "" && c.EName != w.ename) ||
				!strings.Contains(c.Output+c.EValue+c.Traceback, w.output) {
				t.Errorf("%s cell %d: %+v, want %+v", nb.Path, c.Index, c, w)
			}
		}
	}
}

// rehearsalReport is the part of the API's rehearsal the test reads.
type rehearsalReport struct {
	ID         int64  `json:"id"`
	State      string `json:"state"`
	Error      string `json:"error"`
	Completion *int   `json:"completion"`
	Notebooks  []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
		Cells []struct {
			Index     int    `json:"index"`
			Status    string `json:"status"`
			EName     string `json:"ename"`
			EValue    string `json:"evalue"`
			Traceback string `json:"traceback"`
			Output    string `json:"output"`
		} `json:"cells"`
	} `json:"notebooks"`
}

// startTestSSHD runs Debian's sshd on a free loopback port with a host key
// of its own, for the ssh notebooks; it stops with the test.
func startTestSSHD(t *testing.T) int {
	t.Helper()
	sshd := testenv.Command(t, "WOD_TEST_REQUIRE_SSHD", "/usr/sbin/sshd", "apt-get install openssh-server")
	dir := t.TempDir()
	key := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
`, port, key, dir)), 0o600)
	os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return port
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd does not listen on %d: %s", port, logs.String())
	return 0
}

// notebookJSON is an nbformat 4 notebook on the named kernel.
func notebookJSON(kernel, language string, cells ...map[string]any) string {
	b, _ := json.MarshalIndent(map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": kernel, "display_name": kernel, "language": language}},
		"cells":    cells,
	}, "", " ")
	return string(b)
}

func codeCell(src string) map[string]any {
	return map[string]any{"cell_type": "code", "metadata": map[string]any{}, "source": src, "outputs": []any{}, "execution_count": nil}
}

func taggedCell(src, tag string) map[string]any {
	c := codeCell(src)
	c["metadata"] = map[string]any{"tags": []string{tag}}
	return c
}

func markdownCell(src string) map[string]any {
	return map[string]any{"cell_type": "markdown", "metadata": map[string]any{}, "source": src}
}
