package jupyterhub

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPickPorts: free ports are picked once and kept, so that servers that
// outlive a hub find the next one; a kept port taken meanwhile is replaced.
func TestPickPorts(t *testing.T) {
	dir := t.TempDir()
	m := &Managed{}
	first := &settings{dir: dir}
	if err := m.pickPorts(first); err != nil {
		t.Fatal(err)
	}
	if first.hubPort == 0 || first.proxyAPIPort == 0 || first.hubPort == first.proxyAPIPort ||
		first.cfg.HubPort != first.hubPort || first.cfg.ProxyAPIPort != first.proxyAPIPort {
		t.Fatalf("picked %+v", first)
	}
	if info, err := os.Stat(filepath.Join(dir, portsFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ports file: %v %v", info, err)
	}

	again := &settings{dir: dir}
	if err := m.pickPorts(again); err != nil {
		t.Fatal(err)
	}
	if again.hubPort != first.hubPort || again.proxyAPIPort != first.proxyAPIPort {
		t.Fatalf("the next start picked %d %d, want the kept %d %d", again.hubPort, again.proxyAPIPort, first.hubPort, first.proxyAPIPort)
	}

	// Something else took the hub's port meanwhile.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first.hubPort)))
	if err != nil {
		t.Skipf("cannot hold the port for the test: %v", err)
	}
	defer l.Close()
	moved := &settings{dir: dir}
	if err := m.pickPorts(moved); err != nil {
		t.Fatal(err)
	}
	if moved.hubPort == first.hubPort || moved.proxyAPIPort != first.proxyAPIPort {
		t.Fatalf("with the hub port taken: %d %d", moved.hubPort, moved.proxyAPIPort)
	}
	b, _ := os.ReadFile(filepath.Join(dir, portsFile))
	if string(b) != strconv.Itoa(moved.hubPort)+" "+strconv.Itoa(moved.proxyAPIPort)+"\n" {
		t.Fatalf("ports file %q", b)
	}

	// Explicit ports are used as given, and a garbled file is ignored.
	os.WriteFile(filepath.Join(dir, portsFile), []byte("not ports"), 0o600)
	mixed := &settings{dir: dir, hubPort: 18081}
	if err := m.pickPorts(mixed); err != nil || mixed.hubPort != 18081 || mixed.proxyAPIPort == 0 || mixed.proxyAPIPort == 18081 {
		t.Fatalf("explicit hub port: %+v %v", mixed, err)
	}
}
