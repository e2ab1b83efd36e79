package jupyterhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultStudentGroup is the Unix group whose members may log in to a
// managed hub. The agent adds every studentN account to it (as a
// supplementary group: `useradd -G` / `usermod -aG`).
const DefaultStudentGroup = "wod-students"

// Files in Managed.Dir.
const (
	configFile       = "jupyterhub_config.py"
	dbFile           = "jupyterhub.sqlite"
	cookieSecretFile = "jupyterhub_cookie_secret"
	tokenFile        = "wod-agent.token"
	hubPIDFile       = "jupyterhub.pid"
	proxyPIDFile     = "jupyterhub-proxy.pid"
	portsFile        = "ports"   // the hub API and proxy API ports picked, kept for the next start
	serverLogsDir    = "servers" // each student's server's output, <name>.log (serverlogs.go)
)

// Supervision timings.
const (
	defaultStartTimeout = 60 * time.Second
	defaultStopTimeout  = 20 * time.Second
	restartBackoffMin   = time.Second
	restartBackoffMax   = 30 * time.Second
	// A hub that stayed up this long is "healthy again": the next crash
	// restarts it after the minimum backoff.
	restartHealthyAfter = 2 * time.Minute
	// readersGrace bounds the wait for the output pipe to drain after a
	// stop; leftovers (a proxy orphaned by a SIGKILL) keep it open
	// indefinitely.
	readersGrace = 2 * time.Second
)

// Managed runs a JupyterHub for the agent (managed mode): it writes the hub's
// configuration into Dir, starts the Debian `jupyterhub` as a child process
// and keeps it running. Set the fields, call Start to get a Client, then Run
// (usually in a goroutine) until the agent stops; Run can also be called
// alone and starts the hub itself. The hub needs root: PAM reads
// /etc/shadow and LocalProcessSpawner switches to each student's uid.
//
// Who may log in: members of the Unix group StudentGroup (see the package
// documentation for why a group and not a user list).
type Managed struct {
	// Dir holds the configuration, the sqlite database, the cookie secret,
	// the agent's service token, and the pid files. Created 0700.
	Dir string
	// Bind is the public address of the proxy, e.g. "0.0.0.0:8000".
	Bind string
	// HubPort is the hub's API port on 127.0.0.1. 0 picks a free port at
	// the first start and keeps it (in Dir) for the next ones: the students'
	// servers that outlive a hub (KeepServers, a crash) call its API there.
	HubPort int
	// ProxyAPIPort is configurable-http-proxy's API port on 127.0.0.1; 0
	// is picked and kept as HubPort is.
	ProxyAPIPort int
	// KeepServers leaves the students' servers running when the hub stops
	// (the agent restarting, an upgrade): the next hub takes them over from
	// its database, and participants keep their kernels. Without it a stop
	// ends every server.
	KeepServers bool
	// BaseURL is the hub's URL prefix (default "/").
	BaseURL string
	// DefaultURL is where a student's server opens: "" means "/lab" when
	// JupyterLab is installed, else "/tree" (Debian 12 ships only the
	// classic Notebook).
	DefaultURL string
	// CookieMaxAgeDays is the login cookie's lifetime; 0 means 0.17 (about
	// 4 h, like the original), a negative value means JupyterHub's
	// default (14 days).
	CookieMaxAgeDays float64
	// Announcement is plain text shown on every page of the hub until
	// SetBanners says otherwise.
	Announcement string
	// StudentGroup is the Unix group allowed to log in (default
	// DefaultStudentGroup). Start creates it (as a system group) if missing.
	StudentGroup string
	// CgroupDirs are the directories of the students' cgroups
	// (cgroup.Manager.Dirs): each student's server joins
	// <dir>/<student>/cgroup.procs of every one before it drops to the
	// student's uid, and is not started when it cannot. Empty: servers
	// run where the hub runs.
	CgroupDirs []string
	// JupyterPath is given to the students' servers as JUPYTER_PATH
	// (data directories, ':'-separated), so that they find kernels
	// installed off Jupyter's standard path; "" leaves it unset.
	JupyterPath string
	// Logger receives the agent's messages about the hub and the hub's own
	// output line by line. nil discards.
	Logger *slog.Logger
	// Command is the hub executable (default "jupyterhub", looked up in PATH).
	Command string
	// StartTimeout bounds the wait for the API after launching (default 60 s).
	StartTimeout time.Duration
	// StopTimeout is the grace between SIGTERM and SIGKILL (default 20 s);
	// on SIGTERM the hub stops every student's server first.
	StopTimeout time.Duration
	// LoginThrottle slows and then refuses a user name whose logins keep
	// failing from one address, and an address spraying many names; the
	// zero value has the defaults.
	LoginThrottle LoginThrottle
	// Audit receives the throttle's events (EventLoginFailed…), rate
	// limited: per kind and address one at once, then a summary with a
	// count at most every minute. Run delivers them; nil only logs them.
	// The agent passes its server's Event.
	Audit func(ctx context.Context, kind, detail string) error

	auditEvery time.Duration // the rate limit of Audit (tests shorten it)
	audit      *loginAudit

	mu      sync.Mutex
	set     *settings // resolved by the last Start
	client  *Client
	proc    *hubProc
	running bool   // Run is active
	banners string // the banners file as last written
}

// settings are the Managed fields after defaults and validation, plus what
// Start derived (paths, token).
type settings struct {
	dir, command, configPath string
	hubPort, proxyAPIPort    int
	bind                     string
	startTimeout, stopTime   time.Duration
	cfg                      hubConfig
}

// Start writes the configuration, launches the hub and waits until its API
// answers with the agent's token. It fails with an explanation when the hub
// is not installed or a port is taken. ctx bounds the start only; the hub
// keeps running until Run's context ends.
func (m *Managed) Start(ctx context.Context) (*Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		return nil, errors.New("jupyterhub: managed hub already started")
	}
	return m.startLocked(ctx)
}

func (m *Managed) startLocked(ctx context.Context) (*Client, error) {
	s, err := m.resolve(ctx)
	if err != nil {
		return nil, err
	}
	log := m.logger()
	if os.Geteuid() != 0 {
		log.Warn("the managed hub is not running as root: PAM logins and starting servers as the students will fail")
	}
	// A hub or proxy of an agent that died without stopping them would hold
	// our ports: they are ours (same state dir), so replace them.
	if pid, err := stopStale(filepath.Join(s.dir, hubPIDFile), s.configPath, s.stopTime); err != nil {
		return nil, err
	} else if pid > 0 {
		log.Warn("stopped a leftover jupyterhub from an earlier run", "pid", pid)
	}
	if pid, err := stopStale(filepath.Join(s.dir, proxyPIDFile), "configurable-http-proxy", 3*time.Second); err != nil {
		return nil, err
	} else if pid > 0 {
		log.Warn("stopped a leftover configurable-http-proxy from an earlier run", "pid", pid)
	}
	// After the leftovers are gone: their ports are the ones to keep.
	if err := m.pickPorts(s); err != nil {
		return nil, err
	}
	for _, p := range []struct{ addr, role string }{
		{s.bind, "the hub's public address (proxy)"},
		{net.JoinHostPort("127.0.0.1", strconv.Itoa(s.hubPort)), "the hub API"},
		{net.JoinHostPort("127.0.0.1", strconv.Itoa(s.proxyAPIPort)), "the proxy API"},
	} {
		if err := checkPortFree(p.addr, p.role); err != nil {
			return nil, err
		}
	}
	if created, err := ensureGroup(ctx, s.cfg.StudentGroup); err != nil {
		return nil, err
	} else if created {
		log.Info("created the Unix group of students allowed to log in", "group", s.cfg.StudentGroup)
	}
	text, err := s.cfg.render()
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: writing the configuration: %w", err)
	}
	// 0600: the file holds the service token.
	if err := writeFileAtomic(s.configPath, []byte(text), 0o600); err != nil {
		return nil, err
	}
	banners := []Banner{{Text: m.Announcement, Warning: true}}
	if err := writeTemplates(s.cfg.TemplateDir, banners); err != nil {
		return nil, err
	}
	m.banners = renderBanners(banners)
	m.set = s
	if m.audit == nil {
		m.audit = newLoginAudit(m.auditEvery)
	}
	c := &Client{
		URL:   "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.hubPort)) + strings.TrimSuffix(m.baseURL(), "/"),
		Token: s.cfg.ServiceToken,
		// Loopback: never route through an HTTP proxy from the environment.
		HTTP: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}},
	}
	p, err := m.launch()
	if err != nil {
		return nil, err
	}
	if err := m.waitUp(ctx, c, p); err != nil {
		m.stopProc(p)
		return nil, err
	}
	m.proc, m.client = p, c
	log.Info("jupyterhub is up", "pid", p.cmd.Process.Pid, "bind", s.bind, "api", c.URL,
		"default_url", s.cfg.DefaultURL, "student_group", s.cfg.StudentGroup)
	return c, nil
}

// resolve applies defaults, validates the fields and prepares Dir.
func (m *Managed) resolve(ctx context.Context) (*settings, error) {
	s := &settings{
		hubPort: m.HubPort, proxyAPIPort: m.ProxyAPIPort,
		startTimeout: m.StartTimeout, stopTime: m.StopTimeout,
	}
	for _, p := range []int{s.hubPort, s.proxyAPIPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("jupyterhub: port %d out of range", p)
		}
	}
	if s.hubPort != 0 && s.hubPort == s.proxyAPIPort {
		return nil, fmt.Errorf("jupyterhub: hub port and proxy API port are both %d", s.hubPort)
	}
	if s.startTimeout <= 0 {
		s.startTimeout = defaultStartTimeout
	}
	if s.stopTime <= 0 {
		s.stopTime = defaultStopTimeout
	}
	host, port, err := net.SplitHostPort(m.Bind)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: bind address %q: want host:port, e.g. 0.0.0.0:8000", m.Bind)
	}
	if pn, err := strconv.Atoi(port); err != nil || pn < 1 || pn > 65535 {
		return nil, fmt.Errorf("jupyterhub: bind address %q: bad port", m.Bind)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	s.bind = net.JoinHostPort(host, port)
	base := m.baseURL()
	if strings.ContainsAny(base, "?#% \t\r\n\\'\"") {
		return nil, fmt.Errorf("jupyterhub: base URL %q: only a plain path is allowed", m.BaseURL)
	}

	s.command = m.Command
	if s.command == "" {
		s.command = "jupyterhub"
	}
	cmdPath, err := exec.LookPath(s.command)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: %q not found: %s", s.command, installHint)
	}
	if cmdPath, err = filepath.Abs(cmdPath); err != nil {
		return nil, fmt.Errorf("jupyterhub: %w", err)
	}
	s.command = cmdPath

	if m.Dir == "" {
		return nil, errors.New("jupyterhub: a state directory (Dir) is required")
	}
	if s.dir, err = filepath.Abs(m.Dir); err != nil {
		return nil, fmt.Errorf("jupyterhub: state directory: %w", err)
	}
	if strings.ContainsAny(s.dir, "?#%") {
		// It ends up in an SQLAlchemy URL, where these mean something.
		return nil, fmt.Errorf("jupyterhub: state directory %q: must not contain ?, # or %%", s.dir)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("jupyterhub: creating the state directory: %w", err)
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("jupyterhub: securing the state directory: %w", err)
	}
	s.configPath = filepath.Join(s.dir, configFile)
	if err := makeServerLogDir(filepath.Join(s.dir, serverLogsDir)); err != nil {
		return nil, err
	}

	token, err := readOrCreateSecret(filepath.Join(s.dir, tokenFile), 32)
	if err != nil {
		return nil, err
	}
	if _, err := readOrCreateSecret(filepath.Join(s.dir, cookieSecretFile), 32); err != nil {
		return nil, err
	}

	days := m.CookieMaxAgeDays
	switch {
	case math.IsNaN(days) || math.IsInf(days, 0):
		return nil, errors.New("jupyterhub: cookie max age must be a finite number of days")
	case days == 0:
		days = 0.17
	case days < 0:
		days = 14 // JupyterHub's own default
	}
	group := m.StudentGroup
	if group == "" {
		group = DefaultStudentGroup
	}
	if !validGroupName(group) {
		// It is passed to groupadd: a leading "-" would be an option.
		return nil, fmt.Errorf("jupyterhub: student group %q: not a valid Unix group name", group)
	}
	singleUser := singleUserCommand(cmdPath)
	defURL := m.DefaultURL
	if defURL != "" && !strings.HasPrefix(defURL, "/") {
		return nil, fmt.Errorf("jupyterhub: default URL %q: want a path such as /tree or /lab", defURL)
	}
	if defURL == "" {
		defURL = "/tree"
		if hasJupyterLab(ctx, singleUser) {
			defURL = "/lab"
		}
	}
	throttle, err := m.LoginThrottle.resolve()
	if err != nil {
		return nil, err
	}
	s.cfg = hubConfig{
		BindURL:          "http://" + s.bind + base,
		HubPort:          s.hubPort,
		ProxyAPIPort:     s.proxyAPIPort,
		DBPath:           filepath.Join(s.dir, dbFile),
		CookieSecretPath: filepath.Join(s.dir, cookieSecretFile),
		PIDPath:          filepath.Join(s.dir, hubPIDFile),
		ProxyPIDPath:     filepath.Join(s.dir, proxyPIDFile),
		ServiceToken:     token,
		StudentGroup:     group,
		DefaultURL:       defURL,
		SingleUserCmd:    singleUser,
		CookieMaxAgeDays: days,
		TemplateDir:      filepath.Join(s.dir, templatesDir),
		KeepServers:      m.KeepServers,
		CgroupDirs:       m.CgroupDirs,
		Throttle:         throttle,
		JupyterPath:      m.JupyterPath,
		ServerLogDir:     filepath.Join(s.dir, serverLogsDir),
	}
	if err := validCgroupDirs(m.CgroupDirs); err != nil {
		return nil, err
	}
	return s, nil
}

// validGroupName accepts the names useradd/groupadd accept by default
// (Debian's NAME_REGEX without the trailing "$" of machine accounts).
func validGroupName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9') || r == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// baseURL returns BaseURL with a leading and trailing slash.
func (m *Managed) baseURL() string {
	b := "/" + strings.Trim(m.BaseURL, "/") + "/"
	if b == "//" {
		b = "/"
	}
	return b
}

func (m *Managed) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.New(slog.DiscardHandler)
}
