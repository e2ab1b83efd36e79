package jupyterhub

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/testenv"
)

func testHubConfig() hubConfig {
	return hubConfig{
		BindURL:          "http://0.0.0.0:8000/wod/",
		HubPort:          8081,
		ProxyAPIPort:     8001,
		DBPath:           "/var/lib/wod/hub/jupyterhub.sqlite",
		CookieSecretPath: "/var/lib/wod/hub/jupyterhub_cookie_secret",
		PIDPath:          "/var/lib/wod/hub/jupyterhub.pid",
		ProxyPIDPath:     "/var/lib/wod/hub/jupyterhub-proxy.pid",
		ServiceToken:     "0123456789abcdef",
		StudentGroup:     "wod-students",
		DefaultURL:       "/tree",
		SingleUserCmd:    "/usr/bin/jupyterhub-singleuser",
		CookieMaxAgeDays: 0.17,
		ServerLogDir:     "/var/lib/wod/hub/servers",
		TemplateDir:      "/var/lib/wod/it's'''); import os; os.system('touch /tmp/pwned'); ('/templates",
	}
}

func TestConfigRendersEveryValueQuoted(t *testing.T) {
	text, err := testHubConfig().render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"c.JupyterHub.authenticator_class = WodPAMAuthenticator",
		"class WodPAMAuthenticator(PAMAuthenticator):",
		"c.JupyterHub.spawner_class = WodSpawner",
		"_WOD_SERVER_LOGS = '/var/lib/wod/hub/servers'",
		"_WOD_RUNTIME = '/run/wod-jupyter'",
		"c.Spawner.args = ['--KernelManager.transport=ipc']",
		"c.PAMAuthenticator.allowed_groups = {'wod-students'}",
		"c.Authenticator.allowed_users = set()",
		"c.JupyterHub.bind_url = 'http://0.0.0.0:8000/wod/'",
		"c.JupyterHub.hub_ip = '127.0.0.1'",
		"c.JupyterHub.hub_port = 8081",
		"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:8001'",
		"c.JupyterHub.db_url = 'sqlite:////var/lib/wod/hub/jupyterhub.sqlite'",
		"c.JupyterHub.cookie_max_age_days = 0.17",
		"c.JupyterHub.tornado_settings = {'cookie_options': {'expires_days': 0.17}}",
		"c.JupyterHub.shutdown_on_logout = True",
		"c.JupyterHub.redirect_to_server = True",
		"c.JupyterHub.cleanup_servers = True",
		"c.Spawner.default_url = '/tree'",
		"c.Spawner.notebook_dir = '~'",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("config lacks %q", want)
		}
	}
	if !strings.Contains(text, "'scopes': ['admin:users', 'admin:servers', 'tokens', 'list:users', 'read:users']") {
		t.Error("config lacks the agent's scopes")
	}
	// The hostile path stays inside one literal on one line (its value is
	// checked by TestConfigLoadsInJupyterHubsPython).
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "import os;") && !strings.HasPrefix(l, "c.JupyterHub.template_paths = ['") {
			t.Errorf("the template path escaped its literal: %q", l)
		}
	}
	keep := testHubConfig()
	keep.KeepServers = true
	if text, err := keep.render(); err != nil || !strings.Contains(text, "c.JupyterHub.cleanup_servers = False\n") ||
		strings.Contains(text, "cleanup_servers = True") {
		t.Errorf("KeepServers: %v\n%s", err, text)
	}
	if strings.Contains(text, "JUPYTER_PATH") {
		t.Error("JUPYTER_PATH set without a JupyterPath")
	}
	jp := testHubConfig()
	jp.JupyterPath = "/srv/jupyter"
	if text, err := jp.render(); err != nil || !strings.Contains(text, "c.Spawner.environment = {'JUPYTER_PATH': '/srv/jupyter'}\n") {
		t.Errorf("JupyterPath: %v\n%s", err, text)
	}
	if _, err := (&hubConfig{CookieMaxAgeDays: nanFloat()}).render(); err == nil {
		t.Error("NaN cookie age accepted")
	}
}

func nanFloat() float64 {
	zero := 0.0
	return zero / zero
}

// TestConfigLoadsInJupyterHubsPython executes the generated file the way the
// hub does (traitlets config loader) with the hub's own Python, and checks
// the values it reads back, including a hostile path.
func TestConfigLoadsInJupyterHubsPython(t *testing.T) {
	hub := testenv.Command(t, testenv.RequireRoot, "jupyterhub", "apt-get install jupyterhub")
	py := shebang(hub)
	if py == "" {
		testenv.Missing(t, testenv.RequireRoot, "cannot tell which Python runs jupyterhub (%s)", hub)
	}
	cfg := testHubConfig()
	text, err := cfg.render()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys
from traitlets.config.loader import PyFileConfigLoader
c = PyFileConfigLoader(sys.argv[1]).load_config()
print(json.dumps({
  "templates": c.JupyterHub.template_paths,
  "groups": sorted(c.PAMAuthenticator.allowed_groups),
  "token": c.JupyterHub.services[0]["api_token"],
  "roles": c.JupyterHub.load_roles,
  "auth": c.JupyterHub.authenticator_class.__mro__[1].__name__,
  "executor_threads": c.JupyterHub.authenticator_class().executor._max_workers,
  "days": c.JupyterHub.tornado_settings["cookie_options"]["expires_days"],
}))
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script, path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("loading the config: %v\n%s", err, stderr.String())
	}
	var got struct {
		Templates []string `json:"templates"`
		Groups    []string `json:"groups"`
		Token     string   `json:"token"`
		Roles     []struct {
			Name     string   `json:"name"`
			Scopes   []string `json:"scopes"`
			Services []string `json:"services"`
		} `json:"roles"`
		Auth            string  `json:"auth"`
		ExecutorThreads int     `json:"executor_threads"`
		Days            float64 `json:"days"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Templates) != 1 || got.Templates[0] != cfg.TemplateDir {
		t.Errorf("template_paths = %q, want [%q]", got.Templates, cfg.TemplateDir)
	}
	if len(got.Groups) != 1 || got.Groups[0] != "wod-students" || got.Token != cfg.ServiceToken || got.Days != 0.17 {
		t.Errorf("read back %+v", got)
	}
	if len(got.Roles) != 1 || got.Roles[0].Name != serviceName || len(got.Roles[0].Scopes) != 5 || got.Roles[0].Services[0] != serviceName {
		t.Errorf("roles = %+v", got.Roles)
	}
	if got.Auth != "PAMAuthenticator" || got.ExecutorThreads != pamThreads {
		t.Errorf("authenticator: subclass of %s with %d PAM threads", got.Auth, got.ExecutorThreads)
	}
}

func TestStartRefusesTakenPortsAndMissingHub(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	fake := filepath.Join(t.TempDir(), "jupyterhub")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &Managed{Dir: filepath.Join(t.TempDir(), "hub"), Bind: l.Addr().String(), HubPort: 1, ProxyAPIPort: 2, Command: fake, DefaultURL: "/tree", StudentGroup: "root"}
	_, err = m.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)) {
		t.Fatalf("Start with a taken port: %v", err)
	}

	m = &Managed{Dir: t.TempDir(), Bind: "127.0.0.1:8000", Command: "wod-no-such-jupyterhub"}
	_, err = m.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "apt-get install jupyterhub") || !strings.Contains(err.Error(), "--hub-api") {
		t.Fatalf("Start without jupyterhub: %v", err)
	}
}

// TestStartReportsAHubThatDies uses a fake hub that exits at once: Start must
// say so with its output, not wait for the timeout.
func TestStartReportsAHubThatDies(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "jupyterhub")
	script := "#!/bin/sh\necho '[E 2024-01-01 00:00:00.000 JupyterHub app:1] config error, token=abc123 here' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	var logs syncBuffer
	m := &Managed{
		Dir: filepath.Join(dir, "hub"), Bind: "127.0.0.1:" + strconv.Itoa(ports[0]), HubPort: ports[1], ProxyAPIPort: ports[2],
		Command: fake, DefaultURL: "/tree", StudentGroup: "root", StartTimeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	start := time.Now()
	_, err := m.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "config error") {
		t.Fatalf("Start = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %v to notice", time.Since(start))
	}
	if strings.Contains(err.Error(), "abc123") || strings.Contains(logs.String(), "abc123") {
		t.Fatalf("a token=… value leaked: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the hub's [E line was not logged as an error:\n%s", logs.String())
	}
}

func TestStartValidatesSettings(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "jupyterhub")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    *Managed
		want string
	}{
		{&Managed{Bind: "8000"}, "want host:port"},
		{&Managed{Bind: ":8000", HubPort: 8001, ProxyAPIPort: 8001}, "both 8001"},
		{&Managed{Bind: ":8000", BaseURL: "/a?b"}, "plain path"},
		{&Managed{Bind: ":8000"}, "state directory"},
		{&Managed{Bind: ":8000", StudentGroup: "--help"}, "not a valid Unix group"},
		{&Managed{Bind: ":8000", DefaultURL: "tree"}, "want a path"},
		{&Managed{Bind: ":8000", CookieMaxAgeDays: nanFloat()}, "finite"},
	} {
		m := tc.m
		m.Command = fake
		if tc.want != "state directory" {
			m.Dir = filepath.Join(t.TempDir(), "hub")
		}
		_, err := m.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	for name, ok := range map[string]bool{"wod-students": true, "_x": true, "students2": true, "-x": false, "2x": false, "Wod": false, "a b": false, "": false} {
		if validGroupName(name) != ok {
			t.Errorf("validGroupName(%q) = %v", name, !ok)
		}
	}
}

// TestCgroupSpawner runs the generated spawner's preexec_fn in a real
// Popen with the hub's Python: the child writes its own pid into the
// group's cgroup.procs of each directory (regular files here) before it
// execs, and a missing group fails the spawn before any fork.
func TestCgroupSpawner(t *testing.T) {
	cfg := testHubConfig()
	text, err := cfg.render()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "c.JupyterHub.spawner_class = WodSpawner\n") {
		t.Fatal("without cgroup directories the hub does not use wod's spawner without cgroups")
	}
	hub := testenv.Command(t, testenv.RequireRoot, "jupyterhub", "apt-get install jupyterhub")
	py := shebang(hub)
	if py == "" {
		testenv.Missing(t, testenv.RequireRoot, "cannot tell which Python runs jupyterhub (%s)", hub)
	}
	dir := t.TempDir()
	hostile := filepath.Join(dir, "it's'); import os; os.system('touch /tmp/pwned'); ('")
	memory, pids := filepath.Join(dir, "memory", "wod"), filepath.Join(hostile, "wod")
	cfg.CgroupDirs = []string{memory, pids}
	if text, err = cfg.render(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	script := `
import json, subprocess, sys
from traitlets.config.loader import PyFileConfigLoader
c = PyFileConfigLoader(sys.argv[1]).load_config()
spawner = c.JupyterHub.spawner_class.__new__(c.JupyterHub.spawner_class)
out = {"class": c.JupyterHub.spawner_class.__mro__[1].__name__}
try:
    spawner.make_preexec_fn(sys.argv[2])
except RuntimeError as e:
    out["missing"] = str(e)
try:
    spawner.make_preexec_fn("../etc")
except RuntimeError as e:
    out["traversal"] = str(e)
for d in json.loads(sys.argv[3]):
    import os
    os.makedirs(os.path.join(d, sys.argv[2]))
    open(os.path.join(d, sys.argv[2], "cgroup.procs"), "w").close()
p = subprocess.Popen(["true"], preexec_fn=spawner.make_preexec_fn(sys.argv[2]))
p.wait()
out["pid"] = p.pid
print(json.dumps(out))
`
	dirs, _ := json.Marshal(cfg.CgroupDirs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script, path, me.Username, string(dirs))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got struct {
		Class, Missing, Traversal string
		PID                       int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Class != "WodSpawner" {
		t.Errorf("the spawner subclasses %s", got.Class)
	}
	if !strings.Contains(got.Missing, "does not exist") || !strings.Contains(got.Missing, "not spawned") {
		t.Errorf("a missing group: %q", got.Missing)
	}
	if !strings.Contains(got.Traversal, "cannot name a cgroup") {
		t.Errorf("a name that is a path: %q", got.Traversal)
	}
	for _, d := range cfg.CgroupDirs {
		b, err := os.ReadFile(filepath.Join(d, me.Username, "cgroup.procs"))
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(got.PID) {
			t.Errorf("%s/cgroup.procs holds %q (%v), want the child's pid %d", d, b, err, got.PID)
		}
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("the hostile path ran code")
	}
}
