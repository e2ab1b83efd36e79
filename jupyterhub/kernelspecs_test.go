package jupyterhub

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// TestManagedHubServesWodKernels: wod's kernelspecs, installed in a kernels
// directory off Jupyter's standard path, are what a participant's notebook
// server offers (the hub hands its servers JUPYTER_PATH), with the argv
// that runs `wod kernel NAME`.
func TestManagedHubServesWodKernels(t *testing.T) {
	requireHubHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	logger, _ := hubTestLogger(t)

	uid, group, student := testStudent(t, 64021, 64029)
	homes := testHomes(t)

	// The kernels directory: readable by the student, off the standard path.
	data := filepath.Join(testHomes(t), "share", "jupyter")
	specDir := filepath.Join(data, "kernels")
	const binary = "/usr/local/bin/wod"
	if _, err := kernel.Install(specDir, binary); err != nil {
		t.Fatal(err)
	}
	jp := kernel.JupyterPathFor(specDir, "jupyterhub")
	if jp != data {
		t.Fatalf("JupyterPathFor(%s) = %q, want %q", specDir, jp, data)
	}

	ports := freePorts(t, 3)
	m := &Managed{Dir: filepath.Join(t.TempDir(), "hub"), Bind: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HubPort: ports[1], ProxyAPIPort: ports[2], StudentGroup: group, Logger: logger, StopTimeout: 10 * time.Second,
		JupyterPath: jp}
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

	home := filepath.Join(homes, student)
	run(t, "useradd", "-M", "-d", home, "-u", strconv.Itoa(uid), "-U", "-s", "/bin/bash", "-G", group, student)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, lookupGID(t, student)); err != nil {
		t.Fatal(err)
	}
	runStdin(t, student+":right-Pass-1\n", "chpasswd")
	if err := c.EnsureUser(ctx, student); err != nil {
		t.Fatal(err)
	}

	// The agent starts a seat's server before the participant comes.
	if err := c.StartServer(ctx, student); err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	p := NewParticipant("http://"+m.Bind, student)
	if ok, err := p.Login(ctx, "right-Pass-1"); err != nil || !ok {
		t.Fatalf("login: %v %v", ok, err)
	}
	if err := p.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var specs struct {
		Kernelspecs map[string]struct {
			Name string      `json:"name"`
			Spec kernel.Spec `json:"spec"`
		} `json:"kernelspecs"`
	}
	if err := p.API(ctx, "GET", "/api/kernelspecs", nil, &specs); err != nil {
		t.Fatal(err)
	}
	for _, want := range kernel.ProvidedKernels() {
		got, ok := specs.Kernelspecs[want.Name]
		if !ok {
			t.Errorf("the server does not offer %s: %v", want.Name, slices.Sorted(mapKeys(specs.Kernelspecs)))
			continue
		}
		s := got.Spec
		if !slices.Equal(s.Argv, []string{binary, "kernel", want.Name, "-f", "{connection_file}"}) ||
			s.DisplayName != want.DisplayName || s.Language != want.Language || s.InterruptMode != "signal" {
			t.Errorf("%s: %+v", want.Name, s)
		}
	}
	// The host's own kernels are still there.
	if _, ok := specs.Kernelspecs["python3"]; !ok {
		t.Errorf("python3 is gone: %v", slices.Sorted(mapKeys(specs.Kernelspecs)))
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
