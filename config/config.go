// Package config reads wod's configuration from, in increasing precedence, a
// YAML file, WOD_* environment variables and command-line flags. Every
// setting is a flag; its environment variable is WOD_ and the flag's name
// in upper case with dashes as underscores; its file key is the flag's name.
package config

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
)

// The roles the binary runs as a service, which `wod check` checks and
// `wod install` sets up.
const (
	RoleUp     = "up"     // all-in-one: server and agent in one process
	RoleServer = "server" // the control plane
	RoleAgent  = "agent"  // the agent of one JupyterHub host
)

// Config is the whole configuration of every role.
type Config struct {
	File string // --config: the YAML file, if any

	DB   string // --db: sqlite:PATH or postgres://…
	Data string // --data: SQLite file, keys, state
	Addr string // --addr: listen address
	// MetricsAddr serves /metrics without authentication, for a Prometheus
	// on a private network (--metrics-addr; empty: only the token-guarded
	// /metrics of --addr).
	MetricsAddr string
	Content     []string // --content: content directories, public first, private overlays after
	// ContentRepos are git repositories of content (--content-repo
	// "URL[#BRANCH] [token-file=FILE|ssh-key=FILE] [known-hosts=FILE]"),
	// public first, private overlays after, followed by the --content
	// directories; see package gitcontent.
	ContentRepos []string
	// ContentSync is how often the server fetches the repositories when no
	// push webhook tells it to (--content-sync).
	ContentSync time.Duration
	// CheckEvery is how often each role runs `wod check` on its own and
	// records the results (--check-every; 0: never).
	CheckEvery time.Duration
	// ContentCheck is what an import does with content that would not
	// render (an undefined variable, a notebook that is not JSON):
	// "strict" refuses it, "warn" imports it and logs the report.
	ContentCheck string // --content-check
	// NotebookVars are the notebooks' variables, KEY=VALUE (branding,
	// appliance IPs…): the agent renders with them, the server's import
	// checks the content with them (--var).
	NotebookVars []string

	PublicURL string // --public-url: how people reach the server
	HubURL    string // --hub-url: the local hub's public URL (wod up)
	// HubURLWhy says how the default hub URL was picked (DeriveHubURL).
	HubURLWhy        string
	Students         int           // --students: seats of the local location (wod up)
	DenyList         []string      // --deny-list: refused e-mail domains or addresses
	RegistrationRate int           // --registration-rate: per client address, per minute
	TrustProxy       bool          // --trust-proxy
	LegacyRoutes     bool          // --legacy-routes: also serve the original api-db's routes under /api
	SessionTTL       time.Duration // --session-ttl
	LoginConcurrency int           // --login-concurrency: password checks at once
	ProvisionTimeout time.Duration // --provision-timeout
	// AgentStale is how long a location's agent may be silent before the
	// location gets no new participants and its pending creates move to
	// another location of their workshop (--agent-stale).
	AgentStale   time.Duration
	RemindBefore time.Duration // --remind-before
	WaitMax      time.Duration // --wait-max: longest stay in a workshop's waiting line
	Retention    time.Duration // --retention: history older than this is pruned (0 keeps it all)
	// NotebookRetention is how long participants can download the
	// notebooks they left (--notebook-retention; 0 keeps none).
	NotebookRetention time.Duration

	// Announcement is a standing banner on every page and on the managed
	// hub's pages (--announcement).
	Announcement string

	LogLevel  string // --log-level
	LogFormat string // --log-format

	Branding  Branding
	Mail      Mail
	Agent     Agent
	Rehearsal Rehearsal
}

// Rehearsal configures the robot participant that runs every workshop.
type Rehearsal struct {
	Every       time.Duration // --rehearse-every: rehearse every active workshop that often (0: never)
	CellTimeout time.Duration // --rehearse-cell-timeout: one cell's bound
	Input       string        // --rehearse-input: the answer to every input request
}

// Agent configures the agent of a location (wod agent, and wod up's own).
type Agent struct {
	Server      string        // --server: the server's URL (wod agent)
	Token       string        // --agent-token: the location's agent token (wod agent; prefer WOD_AGENT_TOKEN)
	HubAddr     string        // --hub-addr: listen address of the managed hub's proxy
	HubAPI      string        // --hub-api: an existing hub's URL (external mode)
	HubToken    string        // --hub-token: its API token (external mode)
	StudentRoot string        // --student-root
	UIDBase     int           // --uid-base
	PreStart    bool          // --prestart
	WarmServer  bool          // --warm-server
	HookTimeout time.Duration // --hook-timeout
	Workers     int           // --agent-workers
	// HeartbeatEvery is how often the agent tells the server it is alive
	// (--agent-heartbeat); keep it well below the server's --agent-stale.
	HeartbeatEvery time.Duration
	// StudentLimits are the site's defaults of what one student may use
	// (--student-memory, --student-cpus, --student-tasks, --student-disk);
	// a workshop's own value (wod.yml) wins. 0 is no limit.
	StudentLimits wod.Limits
	// The managed hub's throttle of failed logins, per client address and
	// user name, and per client address.
	HubLoginDelayAfter        int           // --hub-login-delay-after (0: never)
	HubLoginBlockAfter        int           // --hub-login-block-after (0: never)
	HubLoginAddressBlockAfter int           // --hub-login-address-block-after (0: never)
	HubLoginBlockFor          time.Duration // --hub-login-block-for
	HubLoginExempt            []string      // --hub-login-exempt: networks never throttled
	// LDAP: the directory that gets the passwords of `ldap: true` workshops.
	LDAPURL          string // --ldap-url
	LDAPBindDN       string // --ldap-bind-dn
	LDAPPassword     string // --ldap-password (prefer WOD_LDAP_PASSWORD or the file)
	LDAPPasswordFile string // --ldap-password-file
	LDAPUserDN       string // --ldap-user-dn, with {N}
	// GuardHogAllow are the process names (comm) the guard's CPU-hog rule
	// spares (--guard-hog-allow).
	GuardHogAllow []string
	// KernelspecDir is the Jupyter kernels directory the agent installs
	// wod's kernelspecs into (--kernelspec-dir); off Jupyter's standard
	// path, the managed hub's servers get JUPYTER_PATH for it.
	KernelspecDir string
	// KernelBinary is the wod the kernelspecs run (--kernel-binary;
	// default: this binary).
	KernelBinary string
	// Legacy lets the original Workshops-on-Demand api-db drive this agent.
	Legacy Legacy
}

// Legacy configures the intake of the original api-db's command mails
// (wod agent --legacy-api): the agent then works for that api-db instead
// of a wod server.
type Legacy struct {
	API          string   // --legacy-api: the api-db's API URL, e.g. https://apidb:8021/api
	User         string   // --legacy-api-user (the original's WODAPIDBUSER)
	Password     string   // --legacy-api-password (prefer WOD_LEGACY_API_PASSWORD or the file)
	PasswordFile string   // --legacy-api-password-file
	MailAddr     string   // --legacy-mail-addr: where the command mails arrive (the original's WODPOSTPORT)
	Allow        []string // --legacy-mail-allow: networks that may send them
	Senders      []string // --legacy-mail-from: envelope senders accepted (empty: any)
	// SenderUsers are the local accounts, besides root, whose processes may
	// send command mails (--legacy-mail-uids: names or uids; never a
	// student's, whatever --legacy-mail-allow says).
	SenderUsers   []string
	BaseStudentID int    // --legacy-base-student-id: this backend's basestdid in the api-db
	Students      int    // --legacy-students: this backend's student accounts (WODUSERMAX)
	Location      string // --legacy-location: this backend's name in the api-db
}

// Mail configures the outbox and its delivery.
type Mail struct {
	SMTPHost         string        // --smtp-host: empty keeps mail in the outbox (visible to operators)
	SMTPPort         int           // --smtp-port
	SMTPSecurity     string        // --smtp-security: starttls, tls or none
	SMTPUsername     string        // --smtp-username
	SMTPPassword     string        // --smtp-password (prefer WOD_SMTP_PASSWORD or --smtp-password-file)
	SMTPPasswordFile string        // --smtp-password-file
	SMTPTimeout      time.Duration // --smtp-timeout: one delivery; a crashed sender's mail is retried after it (+5s)
	From             string        // --mail-from
	AlertTo          []string      // --alert-to: operators' addresses (default: admins' addresses)
	Templates        string        // --mail-templates: directory of template overrides
}

// Branding is how the organiser presents itself to participants: in the
// mails, on the pages and in the notebooks' variables.
type Branding struct {
	Name        string // --brand-name (the original's BRANDINGWOD)
	URL         string // --brand-url: the organiser's web site
	Logo        string // --brand-logo: absolute URL of the logo
	Color       string // --brand-color: the pages' accent colour, #rrggbb
	Slack       string // --brand-slack: community link
	X           string // --brand-x: X (Twitter) link
	Support     string // --support-email (default: the mails' sender)
	FeedbackURL string // --feedback-url: the survey of the goodbye mail and the notebooks
}

// DefaultGuardHogAllow are the programs a workshop legitimately keeps on
// a whole core for minutes: compilers and their passes (gcc, cc1, cc1plus,
// as, ld; go and its compile; rustc, cargo; javac and the JVM that runs
// it, and java programs the Java workshops run), make driving them, and shc
// compiling the workshops' scripts. Kernels are not here: a runaway cell is
// the hog the rule is for, and kernels have their own age limit. The rule
// matches the process name, which a student can choose (a program of their
// own called gcc is spared too): the list spares honest compilers, it is
// no defence; what bounds any process is its student's CPU limit.
var DefaultGuardHogAllow = []string{"gcc", "cc1", "cc1plus", "as", "ld", "go", "compile", "rustc", "cargo",
	"javac", "java", "make", "shc"}

// DefaultStudentLimits are what one student may use unless the site or the
// workshop says otherwise: Callysto's 2 GB, one core, and room for a
// notebook server, kernels and their tools but not a fork bomb. No disk
// quota: it needs a filesystem that has them (wod check says).
func DefaultStudentLimits() wod.Limits { return wod.Limits{Memory: 2 << 30, CPUs: 1, Tasks: 512} }

// EnvPrefix starts every environment variable of wod.
const EnvPrefix = "WOD_"

// Register adds the flags to fs, with their defaults and their uses (see
// Use): a new flag is one line here, naming the uses it belongs to.
func (c *Config) Register(fs *pflag.FlagSet) {
	d := &flagDefs{}
	defer d.into(fs)
	d.in(UseConfig).StringVar(&c.File, "config", "", "YAML configuration file (keys are flag names)")
	d.in(UseDB).StringVar(&c.DB, "db", "", "database: sqlite:PATH (default sqlite:<data>/wod.db) or postgres://user@host/db")
	d.in(UseData).StringVar(&c.Data, "data", DefaultDataDir(), "directory for the SQLite file, keys and state")
	d.in(UseServe).StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address of the web server")
	d.in(UseServe).StringVar(&c.MetricsAddr, "metrics-addr", "", "also serve /metrics without authentication on this address (a private one, e.g. 127.0.0.1:9464)")
	d.in(UseContent).StringSliceVar(&c.Content, "content", nil, "content directory (repeatable: public first, private overlays after)")
	d.in(UseContent).StringArrayVar(&c.ContentRepos, "content-repo", nil, "git repository of content, URL[#BRANCH] with, for a private one, token-file=FILE or ssh-key=FILE [known-hosts=FILE] after a space (repeatable: public first, private overlays after; the --content directories come after them)")
	d.in(UseServe).DurationVar(&c.ContentSync, "content-sync", 10*time.Minute, "how often the server fetches the --content-repo repositories (a push webhook to /api/v1/content/hook syncs at once)")
	d.in(UseServe, UseHost).DurationVar(&c.CheckEvery, "check-every", 24*time.Hour, "how often server, agent and up run `wod check` on their own, record the results (admin dashboard) and alert on a new failure (0: never)")
	d.in(UseImport).StringVar(&c.ContentCheck, "content-check", "strict", "content that would not render at import: strict (refuse) or warn (import and log)")
	d.in(UseImport).StringArrayVar(&c.NotebookVars, "var", nil, "notebook variable KEY=VALUE (repeatable; e.g. BRANDINGWOD=Acme, IP-WKSHP-Docker101=10.0.0.5)")
	d.in(UseServe, UseClient).StringVar(&c.PublicURL, "public-url", "", "URL people reach the server at (default http://<addr>)")
	d.in(UseLocal, UseHost).StringVar(&c.HubURL, "hub-url", "", "public URL of the local JupyterHub, as participants reach it (default: the port of --hub-addr at this machine's host name if it resolves to an address other than loopback, else at its primary address; wod check says which)")
	d.in(UseLocal).IntVar(&c.Students, "students", 100, "student accounts (seats) of the local location (wod up)")
	d.in(UseServe).StringSliceVar(&c.DenyList, "deny-list", []string{"@1secmail.com", "@1secmail.org"},
		"e-mail domains (@example.com) or addresses refused at registration, besides disposable ones")
	d.in(UseServe).IntVar(&c.RegistrationRate, "registration-rate", 10, "registrations allowed per client address per minute (0: no limit)")
	d.in(UseServe).BoolVar(&c.LegacyRoutes, "legacy-routes", false, "also serve the original api-db's REST routes under /api (its frontend and backends keep working; see the README)")
	d.in(UseServe).BoolVar(&c.TrustProxy, "trust-proxy", false, "take the client address from X-Forwarded-For (only behind a reverse proxy)")
	d.in(UseServe).DurationVar(&c.SessionTTL, "session-ttl", 12*time.Hour, "how long an operator's login lasts")
	d.in(UseServe).IntVar(&c.LoginConcurrency, "login-concurrency", 2, "operators' passwords checked at once (64 MiB each); more logins at that moment are answered 429")
	d.in(UseServe).DurationVar(&c.ProvisionTimeout, "provision-timeout", 10*time.Minute, "how long a registration may take to become ready before it is purged")
	d.in(UseServe).DurationVar(&c.AgentStale, "agent-stale", 2*time.Minute, "how long a location's agent may be silent (no heartbeat) before the location gets no new participants and its pending registrations move to another location of their workshop")
	d.in(UseServe).DurationVar(&c.RemindBefore, "remind-before", time.Hour, "when the reminder goes out, before the end")
	d.in(UseServe).DurationVar(&c.WaitMax, "wait-max", wod.DefaultWaitMax, "how long a participant stays in a full workshop's waiting line at most before being told no seat came free")
	d.in(UseServe).DurationVar(&c.NotebookRetention, "notebook-retention", 7*24*time.Hour, "how long participants can download the notebooks they left at the end (0: not kept)")
	d.in(UseServe).DurationVar(&c.Retention, "retention", 180*24*time.Hour, "prune mail bodies, finished jobs and audit events older than this (0: keep everything)")
	d.in(UseServe).DurationVar(&c.Rehearsal.Every, "rehearse-every", 0, "rehearse every active workshop this often, at the quiet hour (e.g. 24h; 0: only on request)")
	d.in(UseServe).DurationVar(&c.Rehearsal.CellTimeout, "rehearse-cell-timeout", 2*time.Minute, "how long one cell of a rehearsal may run before it is interrupted")
	d.in(UseServe).StringVar(&c.Rehearsal.Input, "rehearse-input", "1", "what a rehearsal answers to every input request")
	d.in(UseConfig).StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	d.in(UseConfig).StringVar(&c.LogFormat, "log-format", "text", "text or json")

	a := &c.Agent
	d.in(UseLink, UseClient).StringVar(&a.Server, "server", "", "the server's URL, for wod agent")
	d.in(UseLink).StringVar(&a.Token, "agent-token", "", "the location's agent token, for wod agent (prefer WOD_AGENT_TOKEN)")
	d.in(UseHost).StringVar(&a.HubAddr, "hub-addr", ":8000", "listen address of the managed JupyterHub (participants log in there)")
	d.in(UseHost).StringVar(&a.HubAPI, "hub-api", "", "URL of an existing JupyterHub to use instead of a managed one")
	d.in(UseHost).StringVar(&a.HubToken, "hub-token", "", "API token of that hub (prefer WOD_HUB_TOKEN)")
	d.in(UseHost).StringVar(&a.StudentRoot, "student-root", "/student", "where the students' homes are")
	d.in(UseHost).IntVar(&a.UIDBase, "uid-base", 2000, "studentN gets uid and gid uid-base + N")
	d.in(UseHost).BoolVar(&a.PreStart, "prestart", true, "start a student's notebook server when the seat is ready, so the first login is instant")
	d.in(UseHost).BoolVar(&a.WarmServer, "warm-server", true, "start the notebook server of a warm seat (a workshop's warm: pool) "+
		"before anyone registers; false keeps only the account, notebooks and hub user warm (about 110 MB less per idle seat)")
	d.in(UseHost).DurationVar(&a.HookTimeout, "hook-timeout", 5*time.Minute, "how long a workshop's lifecycle script may run")
	d.in(UseHost).IntVar(&a.Workers, "agent-workers", 4, "operations an agent runs at once")
	d.in(UseHost).DurationVar(&a.HeartbeatEvery, "agent-heartbeat", 30*time.Second, "how often the agent tells the server it is alive (keep it well below the server's --agent-stale)")
	d.in(UseHost).StringSliceVar(&a.GuardHogAllow, "guard-hog-allow", DefaultGuardHogAllow,
		"process names the guard's CPU-hog rule spares (a whole core for 5 minutes); empty: none")
	a.StudentLimits = DefaultStudentLimits()
	d.in(UseHost).Var((*wod.Size)(&a.StudentLimits.Memory), "student-memory",
		"memory of one student's processes together, unless the workshop's wod.yml says (memory:); K, M, G, T are powers of 1024; 0: no limit")
	d.in(UseHost).Float64Var(&a.StudentLimits.CPUs, "student-cpus", a.StudentLimits.CPUs,
		"cores' worth of CPU time of one student, unless the workshop's wod.yml says (cpus:); 0.5 is half a core; 0: no limit")
	d.in(UseHost).IntVar(&a.StudentLimits.Tasks, "student-tasks", a.StudentLimits.Tasks,
		"processes and threads of one student at once, unless the workshop's wod.yml says (tasks:); 0: no limit")
	d.in(UseHost).Var((*wod.Size)(&a.StudentLimits.Disk), "student-disk",
		"disk quota of one student's home, unless the workshop's wod.yml says (disk:); 0: no quota")
	d.in(UseHost).IntVar(&a.HubLoginDelayAfter, "hub-login-delay-after", 5,
		"failed hub logins of one user name from one address after which its further attempts wait, 1 s doubling up to 30 s (0: never)")
	d.in(UseHost).IntVar(&a.HubLoginBlockAfter, "hub-login-block-after", 10,
		"failed hub logins of one user name from one address after which that name is refused from there for --hub-login-block-for (0: never)")
	d.in(UseHost).IntVar(&a.HubLoginAddressBlockAfter, "hub-login-address-block-after", 500,
		"failed hub logins from one address, any user names, after which the address is refused for --hub-login-block-for; keep it above a room behind one NAT address times a few typos (0: never)")
	d.in(UseHost).DurationVar(&a.HubLoginBlockFor, "hub-login-block-for", 15*time.Minute,
		"how long a refused address or user name waits, and how far back failed hub logins count")
	d.in(UseHost).StringSliceVar(&a.HubLoginExempt, "hub-login-exempt", nil, "networks or addresses whose hub logins are never throttled (e.g. a trusted lab network)")

	d.in(UseHost).StringVar(&a.KernelspecDir, "kernelspec-dir", "/usr/local/share/jupyter/kernels",
		"Jupyter kernels directory where the agent installs wod's kernels (bash, ssh, gophernotes); a site's own kernel of the same name is left alone")
	d.in(UseHost).StringVar(&a.KernelBinary, "kernel-binary", "", "the wod binary the kernelspecs run (default: this one)")

	d.in(UseHost).StringVar(&a.LDAPURL, "ldap-url", "", "LDAP directory that gets the students' passwords of workshops with ldap: true (ldap:// or ldaps://)")
	d.in(UseHost).StringVar(&a.LDAPBindDN, "ldap-bind-dn", "cn=Directory Manager", "the account that may change the students' passwords there")
	d.in(UseHost).StringVar(&a.LDAPPassword, "ldap-password", "", "its password; prefer WOD_LDAP_PASSWORD or --ldap-password-file")
	d.in(UseHost).StringVar(&a.LDAPPasswordFile, "ldap-password-file", "", "file holding that password")
	d.in(UseHost).StringVar(&a.LDAPUserDN, "ldap-user-dn", "", "a student's entry, {N} for the number (e.g. uid=student{N},ou=People,dc=example,dc=org)")

	l := &a.Legacy
	d.in(UseLegacy).StringVar(&l.API, "legacy-api", "", "URL of the original api-db's API (…/api): this agent then serves it, taking its command mails")
	d.in(UseLegacy).StringVar(&l.User, "legacy-api-user", "moderator", "the api-db user with the moderator role (the original's WODAPIDBUSER)")
	d.in(UseLegacy).StringVar(&l.Password, "legacy-api-password", "", "its password; prefer WOD_LEGACY_API_PASSWORD or --legacy-api-password-file")
	d.in(UseLegacy).StringVar(&l.PasswordFile, "legacy-api-password-file", "", "file holding that password")
	d.in(UseLegacy).StringVar(&l.MailAddr, "legacy-mail-addr", ":10025", "listen address for the api-db's command mails (the original's WODPOSTPORT)")
	d.in(UseLegacy).StringSliceVar(&l.Allow, "legacy-mail-allow", []string{"127.0.0.0/8", "::1"}, "networks or addresses allowed to send command mails (the api-db's)")
	d.in(UseLegacy).StringSliceVar(&l.SenderUsers, "legacy-mail-uids", nil, "local accounts (names or uids), besides root, whose processes may send command mails over this host's addresses (a relaying Postfix, say); never a student's")
	d.in(UseLegacy).StringSliceVar(&l.Senders, "legacy-mail-from", nil, "envelope senders allowed to send command mails (the original's WODSENDER; empty: any from the allowed networks)")
	d.in(UseLegacy).IntVar(&l.BaseStudentID, "legacy-base-student-id", 0, "this backend's basestdid in the api-db (studentN is the api-db's student basestdid+N)")
	d.in(UseLegacy).IntVar(&l.Students, "legacy-students", 20, "student accounts of this backend (the original's WODUSERMAX)")
	d.in(UseLegacy).StringVar(&l.Location, "legacy-location", "", "this backend's name in the api-db (its workshops' location), when a notebook is served by several")

	m := &c.Mail
	d.in(UseMail, UseLegacy).StringVar(&m.SMTPHost, "smtp-host", "", "SMTP relay; empty keeps every mail in the outbox, readable by operators")
	d.in(UseMail, UseLegacy).IntVar(&m.SMTPPort, "smtp-port", 0, "SMTP port (default 587 for starttls, 465 for tls, 25 for none)")
	d.in(UseMail, UseLegacy).StringVar(&m.SMTPSecurity, "smtp-security", "starttls", "starttls, tls or none (none only for a relay on this machine)")
	d.in(UseMail, UseLegacy).StringVar(&m.SMTPUsername, "smtp-username", "", "SMTP user name (AUTH), if the relay needs one")
	d.in(UseMail, UseLegacy).StringVar(&m.SMTPPassword, "smtp-password", "", "SMTP password; prefer WOD_SMTP_PASSWORD or --smtp-password-file")
	d.in(UseMail, UseLegacy).StringVar(&m.SMTPPasswordFile, "smtp-password-file", "", "file holding the SMTP password")
	d.in(UseMail, UseLegacy).DurationVar(&m.SMTPTimeout, "smtp-timeout", 20*time.Second, "how long one delivery to the relay may take")
	d.in(UseMail).StringVar(&m.From, "mail-from", "", "sender of every mail (default wod@<public host>)")
	d.in(UseMail).StringSliceVar(&m.AlertTo, "alert-to", nil, "operators' addresses for alerts (default: the admins' addresses)")
	d.in(UseMail).StringVar(&m.Templates, "mail-templates", "", "directory of mail template overrides")

	b := &c.Branding
	d.in(UseBrand, UseImport).StringVar(&b.Name, "brand-name", "WoD Developer", "organiser's name in mails and pages (the original's BRANDINGWOD)")
	d.in(UseBrand, UseImport).StringVar(&b.URL, "brand-url", "", "organiser's web site")
	d.in(UseBrand).StringVar(&b.Logo, "brand-logo", "", "absolute URL of the logo shown in mails")
	d.in(UseBrand).StringVar(&b.Slack, "brand-slack", "", "community (Slack) link shown in mails")
	d.in(UseBrand).StringVar(&b.X, "brand-x", "", "X (Twitter) link shown in mails")
	d.in(UseBrand).StringVar(&b.Color, "brand-color", "#01a982", "accent colour of the pages, #rrggbb")
	d.in(UseServe, UseHost).StringVar(&c.Announcement, "announcement", "", "banner shown on every page (operators add more in the admin pages)")
	d.in(UseBrand).StringVar(&b.Support, "support-email", "", "address participants may write to (default: the sender)")
	d.in(UseBrand, UseImport).StringVar(&b.FeedbackURL, "feedback-url", "", "survey link in the goodbye mail")
}

// DefaultDataDir is /var/lib/wod for root and ~/.local/share/wod otherwise.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/wod"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wod")
	}
	return ".wod"
}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Resolve fills every flag that was not given on the command line from its
// environment variable, else from the configuration file, then derives the
// defaults that depend on other settings and checks the result.
func (c *Config) Resolve(fs *pflag.FlagSet, getenv func(string) string) error {
	if !fs.Changed("config") {
		if v := getenv(EnvName("config")); v != "" {
			c.File = v
		}
	}
	file, err := readFile(c.File, fs)
	if err != nil {
		return err
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || fs.Changed(f.Name) {
			return
		}
		if v, ok := lookupEnv(getenv, EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err))
			}
			return
		}
		if vals, ok := file[f.Name]; ok {
			for _, v := range vals {
				if err := fs.Set(f.Name, v); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %q: %v", c.File, f.Name, v, err))
				}
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return c.finish()
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// readFile reads the YAML file into flag values: a scalar is one value, a
// list gives one value per item (for repeatable flags). Unknown keys are
// errors, so that a typo does not silently leave a default in place.
func readFile(path string, fs *pflag.FlagSet) (map[string][]string, error) {
	out := map[string][]string{}
	if path == "" {
		return out, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("configuration file %s does not exist", path)
		}
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	var errs []error
	for key, v := range raw {
		f := fs.Lookup(key)
		if f == nil || key == "config" {
			errs = append(errs, fmt.Errorf("%s: %s is not a setting (see wod --help)", path, key))
			continue
		}
		switch x := v.(type) {
		case []any:
			if t := f.Value.Type(); t != "stringSlice" && t != "stringArray" {
				errs = append(errs, fmt.Errorf("%s: %s takes one value, not a list", path, key))
				continue
			}
			for _, item := range x {
				out[key] = append(out[key], fmt.Sprint(item))
			}
		case map[string]any:
			errs = append(errs, fmt.Errorf("%s: %s takes a value, not a mapping", path, key))
		case nil:
		default:
			out[key] = []string{fmt.Sprint(x)}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// finish derives defaults and checks the settings.
func (c *Config) finish() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("--data must not be empty"))
	}
	if c.DB == "" {
		c.DB = "sqlite:" + filepath.Join(c.Data, "wod.db")
	}
	if !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		errs = append(errs, fmt.Errorf("--db %q must be sqlite:PATH or postgres://…", c.DB))
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--addr %q must be host:port, such as 127.0.0.1:8080 or :8080", c.Addr))
	}
	if c.Retention != 0 && c.Retention < 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--retention %s: at least 168h (a week), or 0 to keep everything", c.Retention))
	}
	if c.Rehearsal.Every < 0 || c.Rehearsal.CellTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--rehearse-every must not be negative and --rehearse-cell-timeout must be positive"))
	}
	if c.NotebookRetention < 0 {
		errs = append(errs, fmt.Errorf("--notebook-retention must not be negative (0 keeps no notebooks)"))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr %q must be host:port, such as 127.0.0.1:9464", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr {
			errs = append(errs, fmt.Errorf("--metrics-addr %q is --addr: give it an address of its own", c.MetricsAddr))
		}
	}
	if c.PublicURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil && h != "" {
				host = h
			} else {
				host = "localhost"
			}
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q must start with http:// or https://", c.PublicURL))
	}
	// The default --hub-url needs a look at the machine's name and
	// addresses, which only the roles running a hub pay for: see
	// DeriveHubURL.
	if c.Students < 1 || c.Students > 10000 {
		errs = append(errs, fmt.Errorf("--students %d must be between 1 and 10000", c.Students))
	}
	if c.RegistrationRate < 0 {
		errs = append(errs, fmt.Errorf("--registration-rate must not be negative"))
	}
	if c.LoginConcurrency < 1 || c.LoginConcurrency > 64 {
		errs = append(errs, fmt.Errorf("--login-concurrency %d must be between 1 and 64 (each check takes 64 MiB)", c.LoginConcurrency))
	}
	for name, d := range map[string]time.Duration{"session-ttl": c.SessionTTL, "provision-timeout": c.ProvisionTimeout,
		"remind-before": c.RemindBefore, "agent-stale": c.AgentStale, "agent-heartbeat": c.Agent.HeartbeatEvery,
		"wait-max": c.WaitMax} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive", name))
		}
	}
	errs = append(errs, c.Branding.check()...)
	errs = append(errs, c.Mail.finish(c.PublicURL)...)
	if c.Branding.Support == "" {
		c.Branding.Support = c.Mail.From // participants write to the sender
	}
	if c.Agent.UIDBase < 1000 || c.Agent.UIDBase > 1<<30 {
		errs = append(errs, fmt.Errorf("--uid-base %d must be at least 1000 (below are system accounts)", c.Agent.UIDBase))
	}
	if !filepath.IsAbs(c.Agent.StudentRoot) || filepath.Clean(c.Agent.StudentRoot) == "/" {
		errs = append(errs, fmt.Errorf("--student-root %q must be an absolute directory other than /", c.Agent.StudentRoot))
	}
	var limits wod.Validation
	c.Agent.StudentLimits.Validate(&limits, "student-")
	var invalid *wod.Error
	if err := limits.Err("limits"); errors.As(err, &invalid) {
		for _, f := range invalid.Fields {
			errs = append(errs, fmt.Errorf("--%s: %s", f.Field, f.Message))
		}
	}
	if c.Agent.HubLoginDelayAfter < 0 || c.Agent.HubLoginBlockAfter < 0 || c.Agent.HubLoginAddressBlockAfter < 0 {
		errs = append(errs, errors.New("--hub-login-delay-after, --hub-login-block-after and --hub-login-address-block-after must not be negative (0: never)"))
	}
	if c.Agent.HubLoginBlockFor < time.Second {
		errs = append(errs, fmt.Errorf("--hub-login-block-for %s: at least 1s", c.Agent.HubLoginBlockFor))
	}
	for _, n := range c.Agent.HubLoginExempt {
		if _, err := netip.ParsePrefix(n); err != nil {
			if _, err := netip.ParseAddr(n); err != nil {
				errs = append(errs, fmt.Errorf("--hub-login-exempt %q: want a network such as 10.1.0.0/16 or an address", n))
			}
		}
	}
	if c.CheckEvery != 0 && c.CheckEvery < time.Minute {
		errs = append(errs, fmt.Errorf("--check-every %s: at least 1m, or 0 for never", c.CheckEvery))
	}
	if c.ContentSync < time.Minute {
		errs = append(errs, fmt.Errorf("--content-sync %s: at least 1m", c.ContentSync))
	}
	if c.ContentCheck != "strict" && c.ContentCheck != "warn" {
		errs = append(errs, fmt.Errorf("--content-check %q must be strict or warn", c.ContentCheck))
	}
	errs = append(errs, c.Agent.finishKernels()...)
	errs = append(errs, c.Agent.Legacy.finish()...)
	if c.Agent.LDAPPasswordFile != "" {
		var err error
		if c.Agent.LDAPPassword, err = readSecretFile("ldap-password-file", c.Agent.LDAPPasswordFile); err != nil {
			errs = append(errs, err)
		}
	}
	for _, v := range c.NotebookVars {
		if k, _, ok := strings.Cut(v, "="); !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("--var %q must be KEY=VALUE", v))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q must be text or json", c.LogFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

func (l *Legacy) finish() []error {
	if l.API == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(l.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--legacy-api %q must be an http(s) URL such as https://apidb.example:8021/api", l.API))
	}
	if l.PasswordFile != "" {
		var err error
		if l.Password, err = readSecretFile("legacy-api-password-file", l.PasswordFile); err != nil {
			errs = append(errs, err)
		}
	}
	if l.User == "" || l.Password == "" {
		errs = append(errs, fmt.Errorf("--legacy-api needs --legacy-api-user and its password (WOD_LEGACY_API_PASSWORD or --legacy-api-password-file)"))
	}
	if _, _, err := net.SplitHostPort(l.MailAddr); err != nil {
		errs = append(errs, fmt.Errorf("--legacy-mail-addr %q must be host:port, e.g. :10025", l.MailAddr))
	}
	if len(l.Allow) == 0 {
		errs = append(errs, fmt.Errorf("--legacy-mail-allow must name the api-db's network: anyone reaching the port could run commands"))
	}
	if l.BaseStudentID < 0 {
		errs = append(errs, fmt.Errorf("--legacy-base-student-id must not be negative"))
	}
	if l.Students < 1 || l.Students > 10000 {
		errs = append(errs, fmt.Errorf("--legacy-students %d must be between 1 and 10000", l.Students))
	}
	return errs
}

func (m *Mail) finish(publicURL string) []error {
	var errs []error
	if m.SMTPTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--smtp-timeout %s must be positive", m.SMTPTimeout))
	}
	switch m.SMTPSecurity {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("--smtp-security %q must be starttls, tls or none", m.SMTPSecurity))
	}
	if m.SMTPPort < 0 || m.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("--smtp-port %d is not a port", m.SMTPPort))
	}
	if m.SMTPPasswordFile != "" {
		var err error
		if m.SMTPPassword, err = readSecretFile("smtp-password-file", m.SMTPPasswordFile); err != nil {
			errs = append(errs, err)
		}
	}
	if m.From == "" {
		host := "localhost"
		if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		m.From = "wod@" + host
	}
	return errs
}

func (b *Branding) check() []error {
	if !validColor(b.Color) {
		return []error{fmt.Errorf("--brand-color %q must be a colour like #01a982", b.Color)}
	}
	return nil
}

// readSecretFile reads a password from the file a flag names, without the
// line end an editor leaves.
func readSecretFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// validColor accepts #rrggbb, the one form the pages' stylesheet takes.
func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range strings.ToLower(c[1:]) {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// finishKernels checks the kernelspec settings and defaults the binary to
// this one.
func (a *Agent) finishKernels() []error {
	var errs []error
	if !filepath.IsAbs(a.KernelspecDir) || filepath.Base(filepath.Clean(a.KernelspecDir)) != "kernels" {
		// Jupyter looks for <data dir>/kernels/<name>/kernel.json.
		errs = append(errs, fmt.Errorf("--kernelspec-dir %q must be an absolute directory named kernels (Jupyter reads <data dir>/kernels)", a.KernelspecDir))
	}
	a.KernelspecDir = filepath.Clean(a.KernelspecDir)
	if a.KernelBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return append(errs, fmt.Errorf("--kernel-binary: this binary's path is unknown (%v): give it", err))
		}
		a.KernelBinary = exe
	}
	if !filepath.IsAbs(a.KernelBinary) {
		errs = append(errs, fmt.Errorf("--kernel-binary %q must be an absolute path", a.KernelBinary))
	}
	return errs
}

// MailBranding is what the mails say of the organiser: the branding and
// the sender, with the portal's address. The server's renderer and wod
// check's render test use this one value.
func (c *Config) MailBranding() mail.Branding {
	bc := c.Branding
	return mail.Branding{Name: bc.Name, URL: bc.URL, LogoURL: bc.Logo, Slack: bc.Slack, X: bc.X,
		From: c.Mail.From, Support: bc.Support, PortalURL: c.PublicURL + "/", FeedbackURL: bc.FeedbackURL}
}
