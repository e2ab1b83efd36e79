package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel/kerneltest"
	"github.com/wod-dev/wod/testenv"
)

// TestRehearsalTimes measures rehearsals on a real wod up (docs/benchmarks.md):
// the sample workshop and workshops of one 30-cell notebook on python3 and
// on wod's bash kernel, each rehearsed three times. It prints numbers and
// asserts only that the rehearsals pass; it is long, so it runs only with
// WOD_BENCH=1.
func TestRehearsalTimes(t *testing.T) {
	if os.Getenv("WOD_BENCH") == "" {
		t.Skip("a benchmark: WOD_BENCH=1 runs it")
	}
	testenv.HubHost(t, "this benchmark creates Unix accounts and runs a JupyterHub")
	const first = 9201
	top, err := os.MkdirTemp("", "wod-kernels")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(top, 0o755)
	t.Cleanup(func() { os.RemoveAll(top) })
	kernelBinary := filepath.Join(top, "wod")
	if out, err := exec.Command("cp", binary, kernelBinary).CombinedOutput(); err != nil {
		t.Fatalf("copy wod: %v: %s", err, out)
	}
	files := map[string]string{}
	for _, k := range []struct{ slug, kernel, language, cell string }{
		{"WKSHP-Thirty-Python", "python3", "python", "x%[1]d = sum(range(%[1]d * 1000))\nprint(x%[1]d)"},
		{"WKSHP-Thirty-Bash", "bash", "bash", "X%[1]d=$(( %[1]d * 1000 ))\necho \"$X%[1]d\" && ls / | wc -l"},
	} {
		cells := make([]map[string]any, 30)
		for i := range cells {
			cells[i] = codeCell(fmt.Sprintf(k.cell, i))
		}
		files[k.slug+"/wod.yml"] = fmt.Sprintf("name: '30 cells on %s'\nactive: true\ncapacity: 3\nrange: [%d,%d]\nduration: 2\n",
			k.kernel, first, first+2)
		files[k.slug+"/1-Thirty.ipynb"] = notebookJSON(k.kernel, k.language, cells...)
	}
	p, _, _ := startRealPlatformContent(t, first, map[string]string{}, files,
		"--kernelspec-dir", filepath.Join(top, "kernels"), "--kernel-binary", kernelBinary)
	defer p.stop()

	fmt.Printf("%-22s %8s %8s   (median of 3; total: booking, create, login, spawn, cells, cleanup, as the CLI waits)\n",
		"workshop", "total", "cells")
	for _, slug := range []string{"WKSHP-Welcome101", "WKSHP-Thirty-Python", "WKSHP-Thirty-Bash"} {
		var totals, cells []time.Duration
		for range 3 {
			start := time.Now()
			code, out, errOut := runWod(t, "", "workshop", "rehearse", slug, "--json", "--server", p.base, "--token", p.admin)
			total := time.Since(start)
			var reports []struct {
				State     string `json:"state"`
				Notebooks []struct {
					Cells []struct {
						Duration time.Duration `json:"duration_ns"`
					} `json:"cells"`
				} `json:"notebooks"`
			}
			if err := json.Unmarshal([]byte(out), &reports); err != nil || code != 0 || len(reports) != 1 || reports[0].State != "passed" {
				t.Fatalf("rehearse %s: %d %v\n%s\n%s", slug, code, err, out, errOut)
			}
			var inCells time.Duration
			for _, nb := range reports[0].Notebooks {
				for _, c := range nb.Cells {
					inCells += c.Duration
				}
			}
			totals, cells = append(totals, total), append(cells, inCells)
		}
		fmt.Printf("%-22s %8s %8s\n", slug, median(totals), median(cells))
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(10 * time.Millisecond)
}

// BenchmarkIdleKernel reports the memory of an idle kernel after one cell:
// wod's bash, ssh and Go kernels beside Debian's ipykernel. "rss" is the
// resident set; "own" its anonymous pages (heap and stacks: what each more
// kernel costs, since the executable's pages are shared by every kernel
// started from one binary).
// The bash kernel's figures include its bash.
func BenchmarkIdleKernel(b *testing.B) {
	kernels := []struct {
		name string
		argv []string
		cell string
	}{
		{"bash", []string{binary, "kernel", "bash"}, "echo ready"},
		{"ssh", []string{binary, "kernel", "ssh"}, "%logout"},
		{"gophernotes", []string{binary, "kernel", "gophernotes"}, `import "fmt"; fmt.Println("ready")`},
		{"ipykernel", []string{"/usr/bin/python3", "-m", "ipykernel_launcher"}, `print("ready")`},
	}
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) {
			if k.name == "ipykernel" {
				if err := exec.Command(k.argv[0], "-c", "import ipykernel").Run(); err != nil {
					b.Skip("Debian's python3-ipykernel is not installed")
				}
			}
			var rss, own float64
			for b.Loop() {
				c, cmd := kerneltest.StartCommand(b, k.argv...)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if _, err := c.Execute(ctx, k.cell, kerneltest.Options{}); err != nil {
					b.Fatal(err)
				}
				time.Sleep(2 * time.Second) // idle: start-up garbage returned
				rss, own = processMemory(cmd.Process.Pid)
				c.Shutdown(ctx, false)
				cancel()
				cmd.Wait()
			}
			b.ReportMetric(rss/1024, "MB-rss")
			b.ReportMetric(own/1024, "MB-own")
		})
	}
}

// processMemory sums the resident and the anonymous kB of pid and its
// descendants, from /proc.
func processMemory(pid int) (rss, anon float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "Rss:":
				rss += v
			case "Anonymous:":
				anon += v
			}
		}
	}
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(children)) {
		if n, err := strconv.Atoi(c); err == nil {
			r, a := processMemory(n)
			rss, anon = rss+r, anon+a
		}
	}
	return rss, anon
}
