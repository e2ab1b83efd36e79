package jupyterhub

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

// TestRehearser runs notebooks through a real managed hub as a browser
// does: login form, spawn, contents API, kernel websockets through the
// proxy. One hub start for every case, since a start is slow.
func TestRehearser(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logger, _ := hubTestLogger(t)

	uid, group, student := testStudent(t, 64100, 64199)
	homes := testHomes(t)

	ports := freePorts(t, 3)
	m := &Managed{
		Dir:          filepath.Join(t.TempDir(), "hub"),
		Bind:         net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HubPort:      ports[1],
		ProxyAPIPort: ports[2],
		StudentGroup: group,
		Logger:       logger,
		StopTimeout:  10 * time.Second,
	}
	c, err := m.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	t.Cleanup(func() {
		stopRun()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	home := filepath.Join(homes, student)
	run(t, "useradd", "-M", "-d", home, "-u", strconv.Itoa(uid), "-U", "-s", "/bin/bash", "-G", group, student)
	gid := lookupGID(t, student)
	runStdin(t, student+":right-Pass-1\n", "chpasswd")
	if err := c.EnsureUser(ctx, student); err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}

	code := func(src string, meta map[string]any) map[string]any {
		if meta == nil {
			meta = map[string]any{}
		}
		return map[string]any{"cell_type": "code", "source": src, "metadata": meta, "outputs": []any{}, "execution_count": nil}
	}
	mainCells := []map[string]any{
		{"cell_type": "markdown", "source": "# A rehearsal", "metadata": map[string]any{}},
		code("print('hello')\nprint('world')", nil), // 1
		code("1/0", nil), // 2
		code("n = int(input('n? '))\nprint(n + 1)", nil),                                                // 3
		code("import time; time.sleep(600)", nil),                                                       // 4: interrupted
		code("print('after', n)", nil),                                                                  // 5: same kernel
		code("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)", nil), // 6: restarted
		code("print('fresh', 'n' in globals())", nil),                                                   // 7: a new kernel
		code("raise SystemExit('tagged')", map[string]any{"tags": []any{"skip-rehearsal"}}),             // 8
		code("raise SystemExit('metadata')", map[string]any{"wod": map[string]any{"rehearse": false}}),  // 9
		{"cell_type": "markdown", "source": "The end", "metadata": map[string]any{}},                    // 10
		code("40 + 2", nil), // 11
	}
	writeNotebook(t, home, "WKSHP-REH/1-Main.ipynb", "python3", nil, mainCells, uid, gid)
	writeNotebook(t, home, "WKSHP-REH/2-Skipped.ipynb", "python3", map[string]any{"rehearse": false},
		[]map[string]any{code("raise SystemExit('skipped notebook')", nil)}, uid, gid)
	writeNotebook(t, home, "WKSHP-REH/3-Nokernel.ipynb", "wod-no-such-kernel", nil,
		[]map[string]any{code("print(1)", nil)}, uid, gid)
	notebooks := []string{"WKSHP-REH/1-Main.ipynb", "WKSHP-REH/2-Skipped.ipynb", "WKSHP-REH/3-Nokernel.ipynb"}

	r := &Rehearser{InterruptGrace: 3 * time.Second, Logger: logger}
	hub := "http://" + m.Bind

	if _, err := r.RunNotebooks(ctx, hub, student, "wrong-password", notebooks, wod.RehearsalOptions{}); err == nil ||
		!strings.Contains(err.Error(), "refused the password") {
		t.Errorf("wrong password: %v, want the hub refusing it", err)
	}

	var mu sync.Mutex
	var calls int
	var last []wod.NotebookRun
	t0 := time.Now()
	runs, err := r.RunNotebooks(ctx, hub, student, "right-Pass-1", notebooks, wod.RehearsalOptions{
		CellTimeout: 3 * time.Second,
		Progress: func(n []wod.NotebookRun) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			last = n
		},
	})
	took := time.Since(t0)
	if err != nil {
		t.Fatalf("RunNotebooks: %v", err)
	}
	ran := 0
	for _, n := range runs {
		ran += len(n.Cells)
	}
	t.Logf("rehearsal of %d notebooks, %d code cells (server spawn and two 3 s timeouts included): %v",
		len(runs), ran, took.Round(time.Millisecond))

	for _, n := range runs {
		for _, c := range n.Cells {
			t.Logf("%s cell %d: %s in %v", n.Path, c.Index, c.Status, c.Duration.Round(time.Millisecond))
		}
	}
	if len(runs) != 3 {
		t.Fatalf("runs = %+v", runs)
	}
	if n := runs[0]; n.Path != "1-Main.ipynb" || n.Kernel != "python3" || n.Skipped || n.Error != "" || !n.Failed() {
		t.Errorf("main notebook: %+v", n)
	}
	type want struct {
		index         int
		status        wod.CellStatus
		ename, evalue string
		output        string
		inputs        int
	}
	wants := []want{
		{1, wod.CellOK, "", "", "hello\nworld", 0},
		{2, wod.CellError, "ZeroDivisionError", "division by zero", "", 0},
		{3, wod.CellAnswered, "", "", "n? 1\n2", 1},
		{4, wod.CellTimeout, "", "no reply within 3s: interrupted", "", 0},
		{5, wod.CellOK, "", "", "after 1", 0},
		{6, wod.CellTimeout, "", "no reply within 3s: interrupted; the kernel did not come back and was restarted", "", 0},
		{7, wod.CellOK, "", "", "fresh False", 0},
		{8, wod.CellSkipped, "", "", "", 0},
		{9, wod.CellSkipped, "", "", "", 0},
		{11, wod.CellOK, "", "", "42", 0},
	}
	cells := runs[0].Cells
	if len(cells) != len(wants) {
		t.Fatalf("cells = %+v", cells)
	}
	for i, w := range wants {
		got := cells[i]
		if got.Index != w.index || got.Status != w.status || got.EName != w.ename || got.EValue != w.evalue ||
			got.Output != w.output || got.Inputs != w.inputs {
			t.Errorf("cell %d = %+v, want %+v", w.index, got, w)
		}
		if w.status != wod.CellSkipped && got.Duration <= 0 {
			t.Errorf("cell %d: no duration", w.index)
		}
	}
	if tb := cells[1].Traceback; !strings.Contains(tb, "1/0") || !strings.HasSuffix(tb, "ZeroDivisionError: division by zero") ||
		strings.Contains(tb, "\x1b") {
		t.Errorf("traceback excerpt: %q", tb)
	}
	if cells[5].Source != "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)" {
		t.Errorf("source excerpt: %q", cells[5].Source)
	}
	if n := runs[1]; n.Path != "2-Skipped.ipynb" || !n.Skipped || len(n.Cells) != 0 || n.Failed() {
		t.Errorf("skipped notebook: %+v", n)
	}
	if n := runs[2]; n.Path != "3-Nokernel.ipynb" || n.Error != "kernel wod-no-such-kernel is not installed" || len(n.Cells) != 0 {
		t.Errorf("notebook without its kernel: %+v", n)
	}
	mu.Lock()
	if calls < len(wants) || len(last) != 3 || len(last[0].Cells) != len(wants) {
		t.Errorf("Progress: %d calls, last %+v", calls, last)
	}
	mu.Unlock()

	// The saved notebook has the outputs and counts, as the page saves them.
	var nb struct {
		Cells []struct {
			CellType       string           `json:"cell_type"`
			ExecutionCount *int             `json:"execution_count"`
			Outputs        []map[string]any `json:"outputs"`
		} `json:"cells"`
	}
	data, err := os.ReadFile(filepath.Join(home, "WKSHP-REH/1-Main.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatal(err)
	}
	for i, c := range nb.Cells {
		skipped := i == 8 || i == 9
		if c.CellType != "code" {
			continue
		}
		// Cell 6 never answered before its kernel was restarted: counted
		// as run (execute_input gave it a number), with nothing printed.
		if skipped != (c.ExecutionCount == nil) || i != 6 && skipped != (len(c.Outputs) == 0) {
			t.Errorf("saved cell %d: count %v, outputs %v", i, c.ExecutionCount, c.Outputs)
		}
	}
	if o := nb.Cells[1].Outputs; len(o) != 1 || o[0]["output_type"] != "stream" || cellSource(map[string]any{"source": o[0]["text"]}) != "hello\nworld\n" {
		t.Errorf("saved cell 1: %v", o)
	}
	if o := nb.Cells[2].Outputs; len(o) != 1 || o[0]["output_type"] != "error" || o[0]["ename"] != "ZeroDivisionError" {
		t.Errorf("saved cell 2: %v", o)
	}
	if o := nb.Cells[11].Outputs; len(o) != 1 || o[0]["output_type"] != "execute_result" {
		t.Errorf("saved cell 11: %v", o)
	}
	if c := nb.Cells[7].ExecutionCount; c == nil || *c != 1 {
		t.Errorf("cell 7 after the restart: count %v, want 1", c)
	}
}

// writeNotebook writes an nbformat 4 notebook owned by the student.
func writeNotebook(t *testing.T, home, path, kernel string, wodMeta map[string]any, cells []map[string]any, uid, gid int) {
	t.Helper()
	meta := map[string]any{"kernelspec": map[string]any{"name": kernel, "display_name": kernel, "language": "python"}}
	if wodMeta != nil {
		meta["wod"] = wodMeta
	}
	b, err := json.MarshalIndent(map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(home, path)
	for _, dir := range []string{home, filepath.Dir(full)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(full, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(full, uid, gid); err != nil {
		t.Fatal(err)
	}
}
