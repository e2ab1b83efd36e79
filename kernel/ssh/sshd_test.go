package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wod-dev/wod/testenv"
)

// requireSSHD makes a missing sshd a failure: scripts/test sets it.
const requireSSHD = "WOD_TEST_REQUIRE_SSHD"

// The tests' Unix account: uid 64001 (this package's range is 64001–64009,
// above 63999: a wod up of cmd/wod's tests guards uids 52001–61203 and kills what has no registration).
const (
	testUID  = 64001
	testUser = "wodssh1"
)

// sshd is a real OpenSSH server on a loopback port, with its own
// configuration, host key and authorized keys, and a Unix account to log
// in to.
type sshd struct {
	t        *testing.T
	dir      string
	port     int
	user     string
	password string
	home     string // the account's home, on the "remote" side
	hostKey  ssh.PublicKey
	cmd      *exec.Cmd
	log      *bytes.Buffer
}

func startSSHD(t *testing.T) *sshd {
	t.Helper()
	testenv.Root(t, "the ssh kernel tests create a Unix account and run sshd")
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		bin = testenv.Command(t, requireSSHD, "sshd", "apt-get install openssh-server")
	}
	for _, tool := range []string{"useradd", "userdel", "chpasswd", "bash"} {
		testenv.Command(t, testenv.RequireRoot, tool, "the passwd package")
	}
	dir, err := os.MkdirTemp("", "wod-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	// sshd reads the authorized keys as the user: the directory must be
	// open to it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &sshd{t: t, dir: dir, user: testUser, password: "pw-" + token()[:10], home: filepath.Join(dir, "home"), log: new(bytes.Buffer)}
	t.Cleanup(s.stop)

	removeAccount()
	run(t, "useradd", "-u", strconv.Itoa(testUID), "-m", "-d", s.home, "-s", "/bin/bash", s.user)
	runInput(t, s.user+":"+s.password+"\n", "chpasswd")

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, filepath.Join(dir, "host_key"), priv)
	s.hostKey, _ = ssh.NewPublicKey(pub)
	writeFile(t, filepath.Join(dir, "authorized_keys"), "", 0o644)

	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	s.port = freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %s/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers %s
MaxSessions 20
LogLevel VERBOSE
`, s.port, dir, dir, s.user)
	writeFile(t, filepath.Join(dir, "sshd_config"), cfg, 0o600)
	s.cmd = exec.Command(bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	for {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd ended: %s", s.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}

func (s *sshd) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// login is the %login argument for the test account.
func (s *sshd) login() string { return s.user + "@" + s.addr() }

// authorize lets key log in.
func (s *sshd) authorize(key ssh.PublicKey) {
	f, err := os.OpenFile(filepath.Join(s.dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(key)); err != nil {
		s.t.Fatal(err)
	}
}

// dropConnections kills the sshd processes serving connections (not the
// listener), as a host reboot or a network cut would end them.
func (s *sshd) dropConnections() {
	for _, pid := range descendants(s.cmd.Process.Pid) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.HasPrefix(string(comm), "sshd") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (s *sshd) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.dropConnections()
		_ = s.cmd.Process.Kill()
	}
	// What the account still runs (a shell whose connection died).
	_ = exec.Command("pkill", "-KILL", "-u", strconv.Itoa(testUID)).Run()
	removeAccount()
	os.RemoveAll(s.dir)
	if s.t.Failed() {
		s.t.Logf("sshd log:\n%s", s.log)
	}
}

// removeAccount deletes the test account (left over by an earlier run,
// or ours).
func removeAccount() {
	for range 20 {
		out, err := exec.Command("userdel", "-f", "-r", testUser).CombinedOutput()
		if err == nil || strings.Contains(string(out), "does not exist") {
			return
		}
		time.Sleep(100 * time.Millisecond) // still running processes
	}
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, cut after ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeKey(t *testing.T, path string, priv ed25519.PrivateKey) {
	t.Helper()
	b, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(b)), 0o600)
}

// newKey makes a key pair, the private half written to path.
func newKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	writeKey(t, path, priv)
	k, _ := ssh.NewPublicKey(pub)
	return k
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

func runInput(t *testing.T, input, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
}
