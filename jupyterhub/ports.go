package jupyterhub

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// pickPorts fills the hub API and proxy API ports left at 0: the ones the
// last start used, kept in Dir, if they are still free, or else free ones.
// Keeping them matters: a student's server started by an earlier hub calls
// the hub's API at the address it was given then.
func (m *Managed) pickPorts(s *settings) error {
	if s.hubPort != 0 && s.proxyAPIPort != 0 {
		return nil
	}
	path := filepath.Join(s.dir, portsFile)
	var kept [2]int
	if b, err := os.ReadFile(path); err == nil {
		if _, err := fmt.Sscan(string(b), &kept[0], &kept[1]); err != nil {
			m.logger().Warn("ignoring the hub's ports file", "file", path, "error", err)
			kept = [2]int{}
		}
	}
	ports := []*int{&s.hubPort, &s.proxyAPIPort}
	roles := []string{"hub API", "proxy API"}
	for i, p := range ports {
		if *p != 0 {
			continue
		}
		other := *ports[1-i]
		if k := kept[i]; k > 0 && k <= 65535 && k != other && portFree(k) {
			*p = k
			continue
		}
		for *p == 0 || *p == other {
			free, err := freePort()
			if err != nil {
				return fmt.Errorf("jupyterhub: choosing the %s port: %w", roles[i], err)
			}
			*p = free
		}
		if kept[i] > 0 && i == 0 {
			m.logger().Warn("the hub's API port changed: students' servers started before cannot reach it and "+
				"need a restart (their next login, or a new session)", "was", kept[i], "now", *p)
		}
	}
	s.cfg.HubPort, s.cfg.ProxyAPIPort = s.hubPort, s.proxyAPIPort
	text := strconv.Itoa(s.hubPort) + " " + strconv.Itoa(s.proxyAPIPort) + "\n"
	if err := writeFileAtomic(path, []byte(text), 0o600); err != nil {
		return fmt.Errorf("jupyterhub: keeping the ports: %w", err)
	}
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
