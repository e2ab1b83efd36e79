package gitcontent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/testenv"
)

// TestPrivateRepoWithSSHKey reaches a repository through a real OpenSSH
// server on loopback with a deploy key, its host key checked against a
// known-hosts file: an unknown host is refused.
func TestPrivateRepoWithSSHKey(t *testing.T) {
	testenv.Root(t, "the test runs sshd, which logs root in with a key of the test's making")
	sshd := testenv.Command(t, "WOD_TEST_REQUIRE_SSHD", "/usr/sbin/sshd", "apt-get install openssh-server")
	o := newOrigin(t)
	head := o.Commit("first", map[string]*string{"WKSHP-S/wod.yml": s("over ssh")})

	dir, err := os.MkdirTemp("", "wod-git-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hostPub, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	writeSSHKey(t, filepath.Join(dir, "host_key"), hostPriv)
	deployKey := filepath.Join(dir, "deploy_key")
	writeSSHKey(t, deployKey, clientPriv)
	cpub, _ := ssh.NewPublicKey(clientPub)
	os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(cpub), 0o600)
	port := freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_key
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %[2]s/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
`, port, dir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("sshd does not listen: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	hpub, _ := ssh.NewPublicKey(hostPub)
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hpub)+"\n"), 0o600)
	otherKnown := filepath.Join(dir, "other_known_hosts")
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	opub, _ := ssh.NewPublicKey(otherPub)
	os.WriteFile(otherKnown, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, opub)+"\n"), 0o600)

	ctx := context.Background()
	url := fmt.Sprintf("ssh://root@%s%s#main", addr, o.Bare)
	spec, err := gitcontent.ParseSpec(url + " ssh-key=" + deployKey + " known-hosts=" + otherKnown)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gitcontent.Open(t.TempDir(), spec).Fetch(ctx); err == nil {
		t.Fatal("a host whose key is not the known one")
	}
	spec, err = gitcontent.ParseSpec(url + " ssh-key=" + deployKey + " known-hosts=" + known)
	if err != nil {
		t.Fatal(err)
	}
	r := gitcontent.Open(t.TempDir(), spec)
	got, err := r.Fetch(ctx)
	if err != nil || got != head {
		t.Fatalf("over ssh: %s %v\n%s", got, err, log.String())
	}
	tree, err := r.Tree(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "WKSHP-S", "wod.yml")); string(b) != "over ssh" {
		t.Fatalf("laid out: %q", b)
	}
	if got, err := gitcontent.Reachable(ctx, spec); err != nil || got != head {
		t.Fatalf("reachable over ssh: %s %v", got, err)
	}
}

func writeSSHKey(t *testing.T, path string, key ed25519.PrivateKey) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
