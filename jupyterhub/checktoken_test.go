package jupyterhub

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCheckToken: the daily check proves the agent's token against a real
// managed hub, and a token the hub does not know is refused without being
// shown. No account is needed: the hub only answers its API.
func TestCheckToken(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	logger, _ := hubTestLogger(t)
	ports := freePorts(t, 3)
	m := &Managed{Dir: filepath.Join(t.TempDir(), "hub"), Bind: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HubPort: ports[1], ProxyAPIPort: ports[2], StudentGroup: "nogroup", Logger: logger, StopTimeout: 10 * time.Second}
	c, err := m.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
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
	if err := c.CheckToken(ctx); err != nil {
		t.Fatalf("the agent's own token: %v", err)
	}
	bad := &Client{URL: c.URL, Token: "revoked-token-0123"}
	err = bad.CheckToken(ctx)
	if err == nil || !strings.Contains(err.Error(), "refuses the agent's token") || strings.Contains(err.Error(), "revoked-token-0123") {
		t.Fatalf("an unknown token: %v", err)
	}
}
