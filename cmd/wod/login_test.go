package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod/mail/smtptest"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// clientFrom returns a client whose connections come from ip, a loopback
// address of its own: the server sees another client, as it would see
// another machine.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 20}}
}

func postLogin(c *http.Client, base, username, password string) (int, http.Header, error) {
	b, _ := json.Marshal(map[string]string{"username": username, "password": password})
	res, err := c.Post(base+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header, nil
}

// peakRSS is the process's peak resident size (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestLoginFlood: 200 bad logins at once, from 20 addresses, neither
// exhaust a wod server's memory (each password check takes 64 MiB;
// unbounded, 30 of them took it to 2 GB) nor keep the admin, at another
// address, out.
func TestLoginFlood(t *testing.T) {
	data := t.TempDir()
	dsn := storetest.DSN(t, store.SQLite)
	setup(t, dsn, data)
	const password = "the admin's password, 42"
	if code, _, errOut := runWod(t, password+"\n", "user", "add", "admin", "--role", "admin",
		"--data", data, "--db", dsn, "--log-level", "warn"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	p := startPlatform(t, serverArgs(dsn, data, smtptest.Start(t))...)
	before := peakRSS(t, p.cmd.Process.Pid)

	const attackers, each = 20, 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	var mu sync.Mutex
	statuses := map[int]int{}
	for a := range attackers {
		c := clientFrom(fmt.Sprintf("127.0.0.%d", 10+a))
		for i := range each {
			wg.Go(func() {
				<-start
				name := "admin"
				if i%2 == 1 {
					name = fmt.Sprintf("user%d", i)
				}
				status, h, err := postLogin(c, p.base, name, "guess")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				statuses[status]++
				if status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			})
		}
	}
	close(start)
	wg.Wait()
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("answers %v; the server's peak RSS %d MB (%d MB before)", statuses, peak>>20, before>>20)
	if statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != attackers*each {
		t.Fatalf("answers %v: want only 401 and 429", statuses)
	}
	if peak > 400<<20 {
		t.Fatalf("the server's peak RSS %d MB, want under 400 MB", peak>>20)
	}
	// The admin, elsewhere, logs in at once.
	if status, _, err := postLogin(clientFrom("127.0.0.1"), p.base, "admin", password); err != nil || status != http.StatusOK {
		t.Fatalf("the admin's login after the flood: %d %v\n%s", status, err, p.logs)
	}
}
