package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/jupyterhub"
	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
)

// CheckStatus is the verdict of one preflight check.
type CheckStatus string

// Verdicts: a failure stops the role from working, a warning deserves a
// look, a skip did not apply.
const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "FAIL"
	CheckSkip CheckStatus = "skip"
)

// Check is what one preflight check found.
type Check struct {
	Name   string
	Status CheckStatus
	Detail string
}

// Roles `wod check` knows.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
	RoleUp     = "up"
)

// minFreeDisk is the free space below which a disk deserves a warning: a
// class of students writing notebooks and datasets fills less quickly than
// this, a full disk fails every create.
const minFreeDisk = 2 << 30

// Preflight checks that this machine and configuration can play the role
// (server, agent, or up for both), without changing anything: no migration,
// no key generated, no mail sent, no account created. The agent role with
// --server also proves the agent token with a read-only call.
func (a *App) Preflight(ctx context.Context, role string) []Check {
	var cs []Check
	add := func(name string, status CheckStatus, format string, args ...any) {
		cs = append(cs, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	if role == RoleServer || role == RoleUp {
		a.checkData(add)
		a.checkDatabase(ctx, add)
		a.checkMail(ctx, add)
		a.checkPublicURL(add)
	}
	a.checkContent(add)
	if role == RoleAgent || role == RoleUp {
		a.checkAgent(ctx, role, add)
	}
	return cs
}

type addCheck func(name string, status CheckStatus, format string, args ...any)

func (a *App) checkData(add addCheck) {
	dir := a.Config.Data
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		add("data", CheckOK, "%s does not exist yet: created at the first start", dir)
		return
	case err != nil:
		add("data", CheckFail, "%s: %v", dir, err)
		return
	case !info.IsDir():
		add("data", CheckFail, "%s is not a directory", dir)
		return
	}
	f, err := os.CreateTemp(dir, ".wod-check-")
	if err != nil {
		add("data", CheckFail, "%s is not writable: %v", dir, err)
		return
	}
	f.Close()
	os.Remove(f.Name())
	add("data", CheckOK, "%s is writable", dir)
	a.checkDisk(add, "disk (data)", dir)
	for _, name := range []string{secret.SigningKeyFile, secret.EncryptionKeyFile, lti.KeyFile} {
		info, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add("keys", CheckOK, "%s: generated at the first start", name)
		case err != nil:
			add("keys", CheckFail, "%s: %v", name, err)
		case info.Mode().Perm()&0o077 != 0:
			add("keys", CheckFail, "%s has mode %v: others can read it (chmod 600)", name, info.Mode().Perm())
		default:
			add("keys", CheckOK, "%s: present, mode %v", name, info.Mode().Perm())
		}
	}
}

func (a *App) checkDisk(add addCheck, name, path string) {
	for {
		if _, err := os.Stat(path); err == nil || path == filepath.Dir(path) {
			break
		}
		path = filepath.Dir(path) // the nearest existing parent holds it
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		add(name, CheckWarn, "%s: %v", path, err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	status := CheckOK
	if free < minFreeDisk {
		status = CheckWarn
	}
	add(name, status, "%.1f GiB free on %s", float64(free)/(1<<30), path)
}

func (a *App) checkDatabase(ctx context.Context, add addCheck) {
	if strings.HasPrefix(a.Config.DB, "sqlite:") {
		path := strings.TrimPrefix(a.Config.DB, "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			add("database", CheckOK, "%s does not exist yet: created at the first start", path)
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	clock := a.Clock
	if clock == nil {
		clock = wod.SystemClock{}
	}
	db, err := store.Open(ctx, a.Config.DB, clock)
	if err != nil {
		add("database", CheckFail, "%v", err)
		return
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		add("database", CheckFail, "%s does not answer: %v", db.Dialect(), err)
		return
	}
	cur, latest, err := db.MigrationVersions(ctx)
	switch {
	case err != nil:
		add("database", CheckFail, "%s answers, but its schema version is unknown: %v", db.Dialect(), err)
	case cur > latest:
		add("database", CheckFail, "%s schema at version %d, newer than this binary's %d: run the newer wod", db.Dialect(), cur, latest)
	case cur < latest:
		add("database", CheckWarn, "%s schema at version %d, this binary brings it to %d at start (or wod migrate)", db.Dialect(), cur, latest)
	default:
		add("database", CheckOK, "%s answers, schema current (version %d)", db.Dialect(), cur)
		checkLTI(ctx, db, add)
	}
}

// checkLTI fetches the key set of every registered learning platform: one
// that does not answer refuses every launch from its courses.
func checkLTI(ctx context.Context, db *store.DB, add addCheck) {
	ps, err := db.FindLTIPlatforms(ctx)
	if err != nil {
		add("lti", CheckFail, "%v", err)
		return
	}
	for _, p := range ps {
		set, err := jwk.Fetch(ctx, p.JWKSURL, jwk.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
		switch {
		case err != nil:
			add("lti", CheckFail, "%s: its key set at %s: %v", p.Name, p.JWKSURL, err)
		case set.Len() == 0:
			add("lti", CheckFail, "%s: its key set at %s holds no key", p.Name, p.JWKSURL)
		default:
			grades := "no grade book (no token URL)"
			if p.TokenURL != "" {
				grades = "grades to " + p.TokenURL
			}
			add("lti", CheckOK, "%s: %d key(s) at %s; %s", p.Name, set.Len(), p.JWKSURL, grades)
		}
	}
}

func (a *App) checkMail(ctx context.Context, add addCheck) {
	mc := a.Config.Mail
	if _, err := mail.NewRenderer(mail.Branding{Name: mc.BrandName, URL: mc.BrandURL, LogoURL: mc.BrandLogo,
		From: mc.From, Support: mc.Support, PortalURL: a.Config.PublicURL + "/", FeedbackURL: mc.FeedbackURL},
		mc.Templates); err != nil {
		add("mail templates", CheckFail, "%v", err)
	} else if mc.Templates != "" {
		add("mail templates", CheckOK, "%s render every kind of mail", mc.Templates)
	}
	if mc.SMTPHost == "" {
		add("smtp", CheckWarn, "no --smtp-host: mails stay in the outbox, for operators to read at /admin/mails")
		return
	}
	smtp, err := mail.NewSMTP(mail.SMTPConfig{Host: mc.SMTPHost, Port: mc.SMTPPort, Security: mc.SMTPSecurity,
		Username: mc.SMTPUsername, Password: mc.SMTPPassword, Timeout: mc.SMTPTimeout})
	if err != nil {
		add("smtp", CheckFail, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, mc.SMTPTimeout+5*time.Second)
	defer cancel()
	if err := smtp.Verify(ctx); err != nil {
		add("smtp", CheckFail, "%v", err)
		return
	}
	what := "the connection"
	if mc.SMTPUsername != "" {
		what = "the connection and the login"
	}
	add("smtp", CheckOK, "%s accepts %s", smtp, what)
}

func (a *App) checkPublicURL(add addCheck) {
	u, err := url.Parse(a.Config.PublicURL)
	if err != nil || u.Host == "" {
		add("public URL", CheckFail, "%q is not a URL", a.Config.PublicURL)
		return
	}
	host, _, _ := net.SplitHostPort(a.Config.Addr)
	listensWide := host == "" || host == "0.0.0.0" || host == "::"
	if ip := net.ParseIP(u.Hostname()); (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) && listensWide {
		add("public URL", CheckWarn, "links in mails point to %s, which only this machine reaches: set --public-url", a.Config.PublicURL)
		return
	}
	add("public URL", CheckOK, "links in mails point to %s", a.Config.PublicURL)
}

func (a *App) checkContent(add addCheck) {
	dirs := a.Config.Content
	if len(dirs) == 0 {
		add("content", CheckSkip, "no --content: wod up uses the bundled sample")
		return
	}
	ws, err := content.Load(dirs)
	if err != nil {
		add("content", CheckFail, "%s", explainLines(err))
		return
	}
	bad := 0
	for _, w := range ws {
		rep, err := content.CheckWorkshop(w, a.NotebookVars(), dirs)
		if err != nil {
			add("content", CheckFail, "%s: %v", w.Slug, err)
			bad++
			continue
		}
		if !rep.OK() {
			status := CheckFail
			if a.Config.Agent.ContentCheck == "warn" {
				status = CheckWarn
			}
			add("content", status, "%s", strings.TrimSpace(rep.String()))
			bad++
		}
	}
	if bad == 0 {
		add("content", CheckOK, "%d workshop(s) in %s render for a sample student", len(ws), strings.Join(dirs, ", "))
	}
	var compile []string
	for _, w := range ws {
		if len(w.Compile) > 0 {
			compile = append(compile, w.Slug)
		}
	}
	if len(compile) > 0 {
		missing := missingTools("shc", "cc")
		if len(missing) > 0 {
			add("compile", CheckFail, "%s compile scripts, but this machine lacks %s: apt-get install shc gcc",
				strings.Join(compile, ", "), strings.Join(missing, " and "))
		} else {
			add("compile", CheckOK, "shc and a C compiler for %s", strings.Join(compile, ", "))
		}
	}
}

// explainLines flattens a content error with its fields, one per line.
func explainLines(err error) string {
	var we *wod.Error
	if !errors.As(err, &we) {
		return err.Error()
	}
	lines := []string{we.Message}
	for _, f := range we.Fields {
		lines = append(lines, "  "+f.Field+": "+f.Message)
	}
	return strings.Join(lines, "\n")
}

func missingTools(tools ...string) []string {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

func (a *App) checkAgent(ctx context.Context, role string, add addCheck) {
	ac := a.Config.Agent
	if os.Geteuid() != 0 {
		add("root", CheckFail, "%v", ErrNotRoot)
	} else {
		add("root", CheckOK, "running as root")
	}
	if missing := missingTools("useradd", "usermod", "userdel", "groupadd", "chpasswd"); len(missing) > 0 {
		add("system tools", CheckFail, "missing %s (the passwd package)", strings.Join(missing, ", "))
	} else {
		add("system tools", CheckOK, "useradd, usermod, userdel, groupadd, chpasswd")
	}
	if ac.HubAPI != "" {
		if _, err := jupyterhub.NewExternal(ctx, ac.HubAPI, ac.HubToken); err != nil {
			add("jupyterhub", CheckFail, "%v", err)
		} else {
			add("jupyterhub", CheckOK, "the hub at %s accepts the token, with the scopes the agent needs", ac.HubAPI)
		}
	} else {
		in, err := jupyterhub.CheckInstallation(ctx)
		if err != nil {
			add("jupyterhub", CheckFail, "%v", err)
		} else {
			ui := "the classic Notebook (/tree)"
			if in.Lab {
				ui = "JupyterLab (/lab)"
			}
			add("jupyterhub", CheckOK, "JupyterHub %s (%s), servers open %s", in.Version, in.Hub, ui)
		}
		if err := jupyterhub.CheckAddr(ac.HubAddr); err != nil {
			add("hub address", CheckWarn, "%v (a running wod up holds it: fine)", err)
		} else {
			add("hub address", CheckOK, "%s is free for the hub", ac.HubAddr)
		}
	}
	a.checkStudents(add)
	a.checkCgroups(add)
	a.checkDisk(add, "disk (students)", ac.StudentRoot)
	a.checkDiskLimit(ctx, add)
	if ac.LDAPURL != "" {
		d := a.Directory()
		if err := d.Validate(); err != nil {
			add("ldap", CheckFail, "%v", err)
		} else if err := d.Check(ctx); err != nil {
			add("ldap", CheckFail, "%v", err)
		} else {
			add("ldap", CheckOK, "%s takes %s's password; students are %s", ac.LDAPURL, ac.LDAPBindDN, d.DN(1))
		}
	}
	if role == RoleAgent {
		a.checkServer(ctx, add)
	}
}

// checkStudents looks for accounts in the way of the studentN accounts the
// agent will create: a uid or a name of the range that belongs to someone
// else would make every create on that seat fail.
func (a *App) checkStudents(add addCheck) {
	ac := a.Config.Agent
	root := ac.StudentRoot
	if root == "" {
		root = agent.DefaultStudentRoot
	}
	if info, err := os.Stat(root); err == nil {
		switch {
		case !info.IsDir():
			add("student homes", CheckFail, "%s is not a directory", root)
		case info.Mode().Perm()&0o022 != 0:
			add("student homes", CheckFail, "%s has mode %v: others could replace the students' homes (chmod 755)", root, info.Mode().Perm())
		default:
			add("student homes", CheckOK, "%s exists, mode %v", root, info.Mode().Perm())
		}
	} else {
		add("student homes", CheckOK, "%s is created at the first create", root)
	}
	n := a.Config.Students
	if n <= 0 {
		n = wod.MaxStudentsPerLocation
	}
	var clashes []string
	for i := 1; i <= n && len(clashes) < 5; i++ {
		name, uid := wod.StudentUsername(i), ac.UIDBase+i
		if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != name {
			clashes = append(clashes, fmt.Sprintf("uid %d is %s's", uid, u.Username))
		}
		if u, err := user.Lookup(name); err == nil && u.Uid != strconv.Itoa(uid) {
			clashes = append(clashes, fmt.Sprintf("%s has uid %s, not %d", name, u.Uid, uid))
		}
	}
	if len(clashes) > 0 {
		add("student accounts", CheckFail, "%s: choose another --uid-base", strings.Join(clashes, "; "))
		return
	}
	add("student accounts", CheckOK, "student1…student%d can have uids %d…%d", n, ac.UIDBase+1, ac.UIDBase+n)
}

// checkServer proves that the agent reaches its server and that the server
// takes its token, with a call that changes nothing.
func (a *App) checkServer(ctx context.Context, add addCheck) {
	ac := a.Config.Agent
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if lc := ac.Legacy; lc.API != "" {
		a.checkLegacy(ctx, add)
		return
	}
	if ac.Server == "" || ac.Token == "" {
		add("server", CheckFail, "wod agent needs --server and --agent-token (or WOD_SERVER and WOD_AGENT_TOKEN)")
		return
	}
	c := &agent.Client{BaseURL: ac.Server, Token: ac.Token}
	seats, err := c.HeldSeats(ctx)
	if err != nil {
		add("server", CheckFail, "%s: %v", ac.Server, err)
		return
	}
	add("server", CheckOK, "%s takes the agent token (%d seats in use at this location)", ac.Server, len(seats))
}

// checkLegacy proves that the original api-db takes the moderator's login
// and that the command mails' address is free to listen on.
func (a *App) checkLegacy(ctx context.Context, add addCheck) {
	lc := a.Config.Agent.Legacy
	api := &legacy.APIDB{URL: lc.API, User: lc.User, Password: lc.Password}
	held, err := (&legacy.Bridge{API: api, BaseStudentID: lc.BaseStudentID, Students: lc.Students,
		Spool: &legacy.Spool{Dir: filepath.Join(a.Config.Data, "legacy-mail")}}).HeldSeats(ctx)
	if err != nil {
		add("api-db", CheckFail, "%v", err)
	} else {
		add("api-db", CheckOK, "%s takes %s's login (%d of this backend's students assigned)", lc.API, lc.User, len(held))
	}
	if _, err := legacy.ParseNetworks(lc.Allow); err != nil {
		add("command mails", CheckFail, "--legacy-mail-allow: %v", err)
		return
	}
	ln, err := net.Listen("tcp", lc.MailAddr)
	if err == nil {
		ln.Close()
		add("command mails", CheckOK, "%s is free; mails accepted from %s", lc.MailAddr, strings.Join(lc.Allow, ", "))
		return
	}
	if greeting := smtpGreeting(ctx, lc.MailAddr); strings.HasPrefix(greeting, "220 ") {
		add("command mails", CheckOK, "%s answers SMTP (the agent running?): %s", lc.MailAddr, greeting)
		return
	}
	add("command mails", CheckFail, "cannot listen on %s: %v", lc.MailAddr, err)
}

// smtpGreeting reads the first line a server at addr says.
func smtpGreeting(ctx context.Context, addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		host = "127.0.0.1"
	}
	c, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}
