package jupyterhub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/config"
)

// utsChildEnv marks the test's own re-execution inside a new UTS
// namespace, where it may rename the machine without touching the host.
const utsChildEnv = "WOD_TEST_UTS_CHILD"

// TestManagedHubUnresolvableHostname: on a machine whose host name does
// not resolve (a debootstrap root, some cloud and container images),
// the managed hub listening on every interface (--hub-addr :PORT, wod
// up's default) starts and serves its login page: it reaches its proxy,
// its API and the servers over loopback, never through the host name
// (JupyterHub 3.0 alone fails: "Failed to start proxy"). And the URL
// participants are given is the machine's address, not the name. The
// test runs itself again in a new UTS namespace with a host name under
// .invalid, which never resolves.
func TestManagedHubUnresolvableHostname(t *testing.T) {
	if os.Getenv(utsChildEnv) != "" {
		unresolvableHostChild(t)
		return
	}
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestManagedHubUnresolvableHostname$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), utsChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the hub in a namespace with an unresolvable host name: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "login page served at") {
		t.Fatalf("the child did not serve the login page:\n%s", out)
	}
	t.Logf("%s", out)
}

func unresolvableHostChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	name := fmt.Sprintf("wod-bare-%d.invalid", os.Getpid())
	if err := syscall.Sethostname([]byte(name)); err != nil {
		t.Fatalf("sethostname in the new UTS namespace: %v", err)
	}
	if h, _ := os.Hostname(); h != name {
		t.Fatalf("host name %q, want %q", h, name)
	}
	if addrs, err := net.DefaultResolver.LookupHost(ctx, name); err == nil {
		t.Fatalf("%s resolves to %v: the test proves nothing", name, addrs)
	}

	logger, _ := hubTestLogger(t)
	group := fmt.Sprintf("wodt-uts%d", os.Getpid())
	t.Cleanup(func() { _ = exec.Command("groupdel", group).Run() })
	ports := freePorts(t, 3)
	m := &Managed{
		Dir:          filepath.Join(t.TempDir(), "hub"),
		Bind:         ":" + strconv.Itoa(ports[0]), // every interface, as wod up's default :8000
		HubPort:      ports[1],
		ProxyAPIPort: ports[2],
		StudentGroup: group,
		Logger:       logger,
		StopTimeout:  10 * time.Second,
	}
	c, err := m.Start(ctx)
	if err != nil {
		t.Fatalf("Start with the host name %s unresolvable: %v", name, err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	t.Cleanup(func() {
		stopRun()
		select {
		case <-runDone:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
	})
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("hub API: %v", err)
	}

	// The default hub URL: the machine's address, since its name does
	// not resolve; the login page answers there and on loopback.
	cfg := &config.Config{Agent: config.Agent{HubAddr: m.Bind}}
	cfg.DeriveHubURL(ctx, config.HostProbe{})
	if strings.Contains(cfg.HubURL, name) || !strings.Contains(cfg.HubURLWhy, "does not resolve") {
		t.Fatalf("default hub URL %s (%s): want an address, the name does not resolve", cfg.HubURL, cfg.HubURLWhy)
	}
	for _, base := range []string{"http://127.0.0.1:" + strconv.Itoa(ports[0]), cfg.HubURL} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/hub/login", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s/hub/login: %v", base, err)
		}
		body := readAll(res)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("GET %s/hub/login: %d\n%s", base, res.StatusCode, body)
		}
		fmt.Printf("login page served at %s (host name %s; hub URL picked because %s)\n", base, name, cfg.HubURLWhy)
	}
}
