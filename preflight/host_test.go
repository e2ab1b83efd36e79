package preflight

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
)

// fakeRoot writes files under a directory standing for a host's /.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, text := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func collect() (*[]Check, addCheck) {
	var cs []Check
	return &cs, func(name string, status Status, format string, args ...any) {
		cs = append(cs, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
}

func TestSysctls(t *testing.T) {
	good := map[string]string{
		"/proc/sys/fs/protected_symlinks": "1\n", "/proc/sys/fs/protected_hardlinks": "1\n",
		"/proc/sys/kernel/pid_max": "4194304\n", "/proc/sys/fs/inotify/max_user_watches": "524288\n",
		"/proc/sys/fs/inotify/max_user_instances": "8192\n",
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		want   Status
		detail string
	}{
		{"hardened", nil, OK, "kernel.pid_max = 4194304"},
		{"symlinks unprotected", map[string]string{"/proc/sys/fs/protected_symlinks": "0\n"}, Fail, "fs.protected_symlinks = 0, want 1"},
		{"hardlinks unprotected", map[string]string{"/proc/sys/fs/protected_hardlinks": "0\n"}, Fail, "sysctl -w fs.protected_hardlinks=1"},
		{"few pids", map[string]string{"/proc/sys/kernel/pid_max": "32768\n"}, Warn, "kernel.pid_max = 32768, want at least 65536"},
		{"few watches", map[string]string{"/proc/sys/fs/inotify/max_user_watches": "8192\n"}, Warn, "max_user_watches = 8192"},
		{"unreadable", map[string]string{"/proc/sys/fs/inotify/max_user_instances": ""}, Warn, "unreadable: fs.inotify.max_user_instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range good {
				files[k] = v
			}
			for k, v := range tc.change {
				if v == "" {
					delete(files, k)
				} else {
					files[k] = v
				}
			}
			cs, add := collect()
			checkSysctls(&Host{Root: fakeRoot(t, files)}, add)
			if len(*cs) != 1 || (*cs)[0].Status != tc.want || !strings.Contains((*cs)[0].Detail, tc.detail) {
				t.Fatalf("%+v, want %s with %q", *cs, tc.want, tc.detail)
			}
		})
	}
}

func TestStudentLimits(t *testing.T) {
	procLimits := "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max processes             96367                96367                processes \n" +
		"Max open files            1024                 524288               files     \n"
	if f, p := parseProcLimits(procLimits); f != "1024" || p != "96367" {
		t.Fatalf("proc limits: %q %q", f, p)
	}
	conf := "# comment\n*  soft  nofile  2048\n@wod-students soft nproc 200\n" +
		"@admins soft nofile 99\n2001:2100 - nofile 8192\nstudent3 hard nofile 1\n"
	if f, p := confLimits([]string{conf}, 2001, 2030, "wod-students"); f != "8192" || p != "200" {
		t.Fatalf("limits.conf for the students: %q %q", f, p)
	}
	if f, _ := confLimits([]string{conf}, 3001, 3030, "other"); f != "2048" {
		t.Fatalf("uids outside the range take the wildcard: %q", f)
	}
	for _, tc := range []struct {
		sl     studentLimits
		want   Status
		detail string
	}{
		{studentLimits{InheritedFiles: "65536", Tasks: 512}, OK, "processes: 512 per student (cgroup)"},
		{studentLimits{InheritedFiles: "1024", Tasks: 512}, Warn, "inherit 1024, want at least 4096"},
		{studentLimits{InheritedFiles: "65536", ConfFiles: "1024", Tasks: 512}, Warn, "limits.conf gives the students 1024"},
		{studentLimits{InheritedFiles: "65536", ConfProcs: "300"}, OK, "300 per student (limits.conf)"},
		{studentLimits{InheritedFiles: "65536", InheritedProcs: "unlimited"}, Warn, "a fork bomb takes the host"},
		{studentLimits{Tasks: 512}, Warn, "open files: unknown"},
	} {
		if st, d := studentLimitsVerdict(tc.sl); st != tc.want || !strings.Contains(d, tc.detail) {
			t.Errorf("%+v: %s %q, want %s with %q", tc.sl, st, d, tc.want, tc.detail)
		}
	}

	// Read from a host's files.
	root := fakeRoot(t, map[string]string{"/proc/self/limits": procLimits,
		"/etc/security/limits.d/90-wod.conf": "@wod-students soft nofile 16384\n"})
	c := &Checker{Config: configure(t, "--students", "5"), Host: &Host{Root: root}}
	c.Config.Agent.StudentLimits.Tasks = 0
	cs, add := collect()
	c.checkStudentLimits(add)
	if len(*cs) != 1 || (*cs)[0].Status != Warn || !strings.Contains((*cs)[0].Detail, "inherit 1024") ||
		!strings.Contains((*cs)[0].Detail, "processes: 96367 per user") {
		t.Fatalf("%+v", *cs)
	}
}

func TestTimeSync(t *testing.T) {
	for _, tc := range []struct {
		state  int
		status int32
		err    error
		client string
		want   Status
		detail string
	}{
		{0, 0x2001, nil, "chronyd", OK, "synchronised by chronyd (estimated error 12 ms)"},
		{timeError, staUnsync, nil, "", Warn, "no NTP client runs"},
		{0, staUnsync, nil, "systemd-timesyn", Warn, "not synchronised yet; systemd-timesyn runs"},
		{0, 0, errors.New("operation not permitted"), "", Warn, "cannot read"},
	} {
		if st, d := timeSyncVerdict(tc.state, tc.status, 12_000, tc.err, tc.client); st != tc.want || !strings.Contains(d, tc.detail) {
			t.Errorf("%+v: %s %q", tc, st, d)
		}
	}
	// The client is found among a host's processes.
	root := fakeRoot(t, map[string]string{"/proc/1/comm": "systemd\n", "/proc/77/comm": "chronyd\n", "/proc/self/comm": "wod\n"})
	c := &Checker{Host: &Host{Root: root, Clock: func() (int, int32, int64, error) { return 0, 0, 500, nil }}}
	cs, add := collect()
	c.checkTimeSync(add)
	if len(*cs) != 1 || (*cs)[0].Status != OK || !strings.Contains((*cs)[0].Detail, "by chronyd (estimated error 500 µs)") {
		t.Fatalf("%+v", *cs)
	}
}

const nftRuleset = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport ssh accept
		tcp dport { 80, 443, 8000 } accept
		ip saddr 10.0.0.0/8 tcp dport 5432 accept
		udp dport 53 accept
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		tcp dport 9999 accept
	}
}
`

const iptablesSave = `# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 5432 -j ACCEPT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:ufw-user-input - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-user-input -p tcp -m multiport --dports 80,443 -j ACCEPT
-A INPUT -s 10.1.0.0/16 -p tcp -m tcp --dport 6379 -j ACCEPT
-A INPUT -j DROP
COMMIT
`

// procNetTCP lists: sshd on 0.0.0.0:22, PostgreSQL on 127.0.0.1:5432,
// the hub on [::]:8000, a student's (uid 2003) server on 0.0.0.0:9000,
// and Redis (uid 100) on 0.0.0.0:6379; an established connection.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 2 1 0 100 0 0 10 0
   2: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2003        0 3 1 0 100 0 0 10 0
   3: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 4 1 0 100 0 0 10 0
   4: 0100007F:1538 0100007F:A000 01 00000000:00000000 00:00000000 00000000   106        0 5 1 0 100 0 0 10 0
`
const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0
`

func TestFirewall(t *testing.T) {
	nft := parseNft(nftRuleset)
	if !nft.Filters || !slices.Equal(nft.Accepted, []int{22, 80, 443, 8000}) {
		t.Fatalf("nft: %+v", nft)
	}
	ipt := parseIptables(iptablesSave)
	if !ipt.Filters || !slices.Equal(ipt.Accepted, []int{22, 80, 443}) {
		t.Fatalf("iptables: %+v", ipt)
	}
	if r := parseIptables("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"); r.Filters {
		t.Fatalf("accept policy, no drop: %+v", r)
	}
	ls := append(parseProcNetTCP(procNetTCP), parseProcNetTCP(procNetTCP6)...)
	if !slices.Equal(ls, []listener{{22, 0}, {9000, 2003}, {6379, 100}, {8000, 0}}) {
		t.Fatalf("listeners: %+v", ls)
	}
	needed := map[int]string{22: "ssh", 8000: "hub", 80: "http", 443: "https"}
	for _, tc := range []struct {
		name   string
		rules  *firewallRules
		ls     []listener
		want   Status
		detail string
	}{
		{"filtered", &nft, ls, OK, "nftables drops by default and accepts 22, 80, 443, 8000"},
		{"open to all, redis listens", &firewallRules{Tool: "iptables"}, ls, Fail, "ports no role needs listen: 6379"},
		{"open to all, only the needed listen", &firewallRules{Tool: "iptables"}, ls[:2], Warn, "accepts every incoming connection"},
		{"accepts redis", &firewallRules{Tool: "nftables", Filters: true, Accepted: []int{22, 8000, 6379}}, ls, Fail, "accepts ports no role needs, and they listen: 6379"},
		{"accepts an idle port", &firewallRules{Tool: "nftables", Filters: true, Accepted: []int{22, 8000, 3306}}, ls, Warn, "nothing listens there now): 3306"},
		{"hub not accepted", &firewallRules{Tool: "nftables", Filters: true, Accepted: []int{22}}, ls, Warn, "does not accept 8000 (hub)"},
		{"unknown", nil, ls, Warn, "the firewall is unknown"},
	} {
		st, d := firewallVerdict(tc.rules, errors.New("neither nft nor iptables-save is installed"), tc.ls, needed, 2001, 2100)
		if st != tc.want || !strings.Contains(d, tc.detail) {
			t.Errorf("%s: %s %q, want %s with %q", tc.name, st, d, tc.want, tc.detail)
		}
	}

	// wod up's agent checks its host, which the server shares.
	up := &Checker{Config: configure(t, "--addr", "0.0.0.0:8080"), InProcess: true}
	if ports := up.neededPorts(config.RoleAgent); ports[8080] == "" || ports[8000] == "" {
		t.Fatalf("wod up's agent needs %v", ports)
	}
	if ports := (&Checker{Config: up.Config}).neededPorts(config.RoleAgent); ports[8080] != "" {
		t.Fatalf("a lone agent needs the server's port: %v", ports)
	}

	// The whole check on a host whose tools answer: nft first, then
	// iptables-save when nftables has no rules.
	// The server listens on 8080 (and Redis on 6379) in this host.
	root := fakeRoot(t, map[string]string{"/proc/net/tcp": procNetTCP +
		"   5: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999 0 8 1 0 100 0 0 10 0\n"})
	for _, tc := range []struct {
		outputs map[string]string
		want    Status
		detail  string
	}{
		{map[string]string{"nft": nftRuleset}, Warn, "nftables drops by default but does not accept 8080"},
		{map[string]string{"nft": "", "iptables-save": iptablesSave}, Warn, "iptables drops by default but does not accept 8080"},
		{map[string]string{"iptables-save": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"}, Fail, "ports no role needs listen: 6379 (drop input by default and accept 22, 80, 443, 8000, 8080)"},
		{map[string]string{}, Warn, "neither nft nor iptables-save is installed"},
	} {
		cmd := func(_ context.Context, name string, _ ...string) ([]byte, error) {
			out, ok := tc.outputs[name]
			if !ok {
				return nil, errToolMissing
			}
			return []byte(out), nil
		}
		c := &Checker{Config: configure(t, "--addr", "0.0.0.0:8080", "--students", "100"), Host: &Host{Root: root, Command: cmd}}
		cs, add := collect()
		c.checkFirewall(context.Background(), config.RoleUp, add)
		if len(*cs) != 1 || (*cs)[0].Status != tc.want || !strings.Contains((*cs)[0].Detail, tc.detail) {
			t.Errorf("%v: %+v, want %s with %q", tc.outputs, *cs, tc.want, tc.detail)
		}
	}
}

// certServer serves TLS on loopback with a certificate for 127.0.0.1
// valid from notBefore to notAfter, and returns its URL and a pool that
// trusts it.
func certServer(t *testing.T, notBefore, notAfter time.Time) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wod test"},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return srv.URL, pool
}

func TestCertificate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name     string
		from, to time.Time
		trust    bool
		want     Status
		detail   string
	}{
		{"valid", now.Add(-day), now.Add(90 * day), true, OK, "valid for 89 more days"},
		{"ending", now.Add(-day), now.Add(5*day + time.Hour), true, Warn, "ends in 5 days"},
		{"expired", now.Add(-90 * day), now.Add(-day), true, Fail, "expired on"},
		{"untrusted", now.Add(-day), now.Add(90 * day), false, Fail, "is refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, pool := certServer(t, tc.from, tc.to)
			if !tc.trust {
				pool = x509.NewCertPool()
			}
			c := &Checker{Config: configure(t, "--public-url", u), Roots: pool}
			cs, add := collect()
			c.checkCertificate(context.Background(), add)
			if len(*cs) != 1 || (*cs)[0].Status != tc.want || !strings.Contains((*cs)[0].Detail, tc.detail) {
				t.Fatalf("%+v, want %s with %q", *cs, tc.want, tc.detail)
			}
		})
	}
	c := &Checker{Config: configure(t, "--public-url", "http://wod.example.org")}
	cs, add := collect()
	c.checkCertificate(context.Background(), add)
	if (*cs)[0].Status != Skip {
		t.Fatalf("http: %+v", *cs)
	}
}

func TestContentSync(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	repos := []*wod.ContentRepo{
		{URL: "https://git.example.org/pub.git", Commit: "aaaaaaaaaaaaaaaa", Head: "aaaaaaaaaaaaaaaa", SyncedAt: ago(time.Minute)},
		{URL: "https://git.example.org/priv.git", Commit: "bbbb", Head: "cccc", SyncedAt: ago(time.Minute),
			Error: "WKSHP-X: undefined variable FOO", ErrorAt: ago(2 * time.Hour)},
		{URL: "https://git.example.org/late.git", Commit: "dddd", Head: "dddd", SyncedAt: ago(3 * time.Hour)},
		{URL: "https://git.example.org/behind.git", Commit: "eeee", Head: "ffff", SyncedAt: ago(time.Minute)},
	}
	vs := contentSyncVerdicts(repos, now, 10*time.Minute)
	want := []struct {
		st     Status
		detail string
	}{
		{OK, "at the branch's head aaaaaaaaaaaa"},
		{Fail, "the last sync failed (2026-12-06T10:00:00Z), the catalogue stays at bbbb: WKSHP-X: undefined variable FOO"},
		{Warn, "last synced 3h0m0s ago"},
		{Warn, "the catalogue is at eeee, the branch at ffff"},
	}
	for i, w := range want {
		if vs[i].Name != "content sync" || vs[i].Status != w.st || !strings.Contains(vs[i].Detail, w.detail) {
			t.Errorf("%d: %+v, want %s with %q", i, vs[i], w.st, w.detail)
		}
	}
	if vs := contentSyncVerdicts(nil, now, time.Minute); vs[0].Status != Warn {
		t.Fatalf("none synced: %+v", vs)
	}
}

// TestHostChecksHere runs the host checks on this machine: each reads
// what it needs from the real /proc and syscalls, whatever it concludes.
func TestHostChecksHere(t *testing.T) {
	c := &Checker{Config: configure(t, "--data", t.TempDir())}
	cs, add := collect()
	checkSysctls(c.Host, add)
	c.checkStudentLimits(add)
	c.checkTimeSync(add)
	c.checkFirewall(context.Background(), config.RoleUp, add)
	for _, ch := range *cs {
		t.Logf("%-4s %-15s %s", ch.Status, ch.Name, ch.Detail)
		if ch.Detail == "" || !slices.Contains([]Status{OK, Warn, Fail}, ch.Status) {
			t.Errorf("%+v", ch)
		}
	}
	if len(*cs) != 4 {
		t.Fatalf("%d checks", len(*cs))
	}
	for _, unread := range []string{"unreadable:", "open files: unknown", "cannot read the clock"} {
		for _, ch := range *cs {
			if strings.Contains(ch.Detail, unread) {
				t.Errorf("this Linux host has what %s reads: %s", ch.Name, ch.Detail)
			}
		}
	}
}
