package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWarmSeatNumbers measures the warm pool on a real wod up
// (docs/benchmarks.md): registration → credentials over HTTP from warm
// seats (the POST answers ready), and the idle memory of a warm seat whose
// server runs without a kernel. It prints numbers and asserts only that
// the bookings were warm; it runs only with WOD_BENCH=1.
func TestWarmSeatNumbers(t *testing.T) {
	if os.Getenv("WOD_BENCH") == "" {
		t.Skip("a benchmark: WOD_BENCH=1 runs it")
	}
	const pool = 5
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	files := map[string]string{
		"WKSHP-WarmBench/wod.yml": fmt.Sprintf("name: 'Warm bench'\nactive: true\ncapacity: %d\nrange: [%d,%d]\nduration: 2\nwarm: %d\n",
			warmBenchSeatTop-warmBenchSeat+1, warmBenchSeat, warmBenchSeatTop, pool),
		"WKSHP-WarmBench/1-Hello.ipynb": notebookJSON("python3", "python", codeCell("print('hello {{ STDID }}')")),
	}
	t.Cleanup(func() { removeStudents(t, warmBenchSeat, warmBenchSeatTop) })
	p, _, _ := startRealPlatformContent(t, warmBenchSeat, map[string]string{}, files,
		"--students", strconv.Itoa(warmBenchSeatTop))
	defer p.stop()

	t0 := time.Now()
	warm := waitWarmIn(ctx, t, p, pool, "WKSHP-WarmBench")
	fmt.Printf("warm pool of %d filled in %v (servers running)\n", pool, time.Since(t0).Round(time.Second))
	time.Sleep(10 * time.Second) // let the servers settle to idle
	var rss []float64
	for _, name := range warm {
		n, _ := strconv.Atoi(strings.TrimPrefix(name, "student"))
		rss = append(rss, uidRSSMB(e2eUIDBase+n))
	}
	if slices.Max(rss) == 0 {
		t.Logf("no warm seat runs a server; the platform's log:\n%s", grepLines(p.logs.String(), "student"))
	}
	slices.Sort(rss)
	fmt.Printf("idle memory of a warm seat (server running, no kernel): median %.0f MB, min %.0f, max %.0f (RSS of the seat's processes)\n",
		rss[len(rss)/2], rss[0], rss[len(rss)-1])

	var times []time.Duration
	for i := range pool {
		start := time.Now()
		reg := p.api("POST", "/api/v1/registrations", map[string]any{"workshop": "WKSHP-WarmBench", "name": "Ann",
			"email": fmt.Sprintf("bench%d@example.com", i)})
		times = append(times, time.Since(start))
		if reg["state"] != "ready" {
			t.Fatalf("booking %d was not warm: %v", i, reg)
		}
	}
	slices.Sort(times)
	fmt.Printf("registration → credentials from a warm seat over HTTP (%d): p50 %v max %v\n", pool,
		times[len(times)/2].Round(100*time.Microsecond), times[len(times)-1].Round(100*time.Microsecond))
}

// waitWarmIn waits until n seats are warm and returns their user names.
func waitWarmIn(ctx context.Context, t *testing.T, p *platform, n int, _ string) []string {
	t.Helper()
	return waitWarm(ctx, t, p, n)
}

// uidRSSMB sums the resident memory of the uid's processes, in MB.
func uidRSSMB(uid int) float64 {
	kb := 0
	for _, pid := range uidProcesses(uid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				v, _ := strconv.Atoi(f[1])
				kb += v
			}
		}
	}
	return float64(kb) / 1024
}
