package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// clientFrom returns a client whose connections come from ip, a loopback
// address of its own: the server sees a different client address, as it
// would see different machines.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 20}}
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

// resetPeakRSS starts the process's peak resident size afresh, at the
// present size.
func resetPeakRSS(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
}

// peakRSS is the process's peak resident size since the reset, in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
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
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestLoginFlood: 200 bad logins at once, from 20 addresses, neither
// exhaust the server's memory (each password check takes 64 MiB; unbounded,
// they took gigabytes) nor keep the admin, at another address, out.
func TestLoginFlood(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		hash, err := secret.HashPassword("the admin's password")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(context.Background(), &wod.User{Username: "admin", Role: wod.RoleAdmin, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
		// What the earlier tests freed goes back first: the peak is the flood's.
		debug.FreeOSMemory()
		resetPeakRSS(t)
		before := peakRSS(t)

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
					status, h, err := postLogin(c, e.srv.URL, name, "guess")
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
		peak := peakRSS(t)
		t.Logf("answers %v; peak RSS %d MB (%d MB before)", statuses, peak>>20, before>>20)
		if statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != attackers*each {
			t.Fatalf("answers %v: want only 401 and 429", statuses)
		}
		if peak > 400<<20 {
			t.Fatalf("peak RSS %d MB during the flood, want under 400 MB", peak>>20)
		}
		// The admin, elsewhere, logs in at once.
		if status, _, err := postLogin(clientFrom("127.0.0.1"), e.srv.URL, "admin", "the admin's password"); err != nil || status != http.StatusOK {
			t.Fatalf("the admin's login after the flood: %d %v", status, err)
		}
	})
}
