package preflight

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/jupyterhub"
)

// checkAgent checks what the agent needs on its host: root, the account
// tools, the hub, the students' accounts, homes, limits and disk, the
// directory, and for wod agent its server.
func (c *Checker) checkAgent(ctx context.Context, role string, add addCheck) {
	ac := c.Config.Agent
	if os.Geteuid() != 0 {
		add("root", Fail, "%v", agent.ErrNotRoot)
	} else {
		add("root", OK, "running as root")
	}
	if missing := missingTools("useradd", "usermod", "userdel", "groupadd", "chpasswd"); len(missing) > 0 {
		add("system tools", Fail, "missing %s (the passwd package)", strings.Join(missing, ", "))
	} else {
		add("system tools", OK, "useradd, usermod, userdel, groupadd, chpasswd")
	}
	if ac.HubAPI != "" {
		if _, err := jupyterhub.NewExternal(ctx, ac.HubAPI, ac.HubToken); err != nil {
			add("jupyterhub", Fail, "%v", err)
		} else {
			add("jupyterhub", OK, "the hub at %s accepts the token, with the scopes the agent needs", ac.HubAPI)
		}
	} else {
		in, err := jupyterhub.CheckInstallation(ctx)
		if err != nil {
			add("jupyterhub", Fail, "%v", err)
		} else {
			ui := "the classic Notebook (/tree)"
			if in.Lab {
				ui = "JupyterLab (/lab)"
			}
			add("jupyterhub", OK, "JupyterHub %s (%s), servers open %s", in.Version, in.Hub, ui)
		}
		if err := jupyterhub.CheckAddr(ac.HubAddr); err != nil {
			add("hub address", Warn, "%v (a running wod up holds it: fine)", err)
		} else {
			add("hub address", OK, "%s is free for the hub", ac.HubAddr)
		}
	}
	c.checkStudents(add)
	c.checkCgroups(add)
	checkDisk(add, "disk (students)", ac.StudentRoot)
	c.checkDiskLimit(ctx, add)
	if d := c.Directory; d != nil {
		if err := d.Validate(); err != nil {
			add("ldap", Fail, "%v", err)
		} else if err := d.Check(ctx); err != nil {
			add("ldap", Fail, "%v", err)
		} else {
			add("ldap", OK, "%s takes %s's password; students are %s", d.URL, d.BindDN, d.DN(1))
		}
	}
	if c.HubToken != nil {
		if err := c.HubToken(ctx); err != nil {
			add("hub token", Fail, "%v", err)
		} else {
			add("hub token", OK, "the hub accepts the agent's token, with the scopes it needs")
		}
	}
	if role == config.RoleAgent && !c.InProcess {
		c.checkServer(ctx, add)
	}
}

// checkStudents looks for accounts in the way of the studentN accounts the
// agent will create: a uid or a name of the range that belongs to someone
// else would make every create on that seat fail.
func (c *Checker) checkStudents(add addCheck) {
	ac := c.Config.Agent
	root := ac.StudentRoot
	if root == "" {
		root = agent.DefaultStudentRoot
	}
	if info, err := os.Stat(root); err == nil {
		switch {
		case !info.IsDir():
			add("student homes", Fail, "%s is not a directory", root)
		case info.Mode().Perm()&0o022 != 0:
			add("student homes", Fail, "%s has mode %v: others could replace the students' homes (chmod 755)", root, info.Mode().Perm())
		default:
			add("student homes", OK, "%s exists, mode %v", root, info.Mode().Perm())
		}
	} else {
		add("student homes", OK, "%s is created at the first create", root)
	}
	n := c.Config.Students
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
		add("student accounts", Fail, "%s: choose another --uid-base", strings.Join(clashes, "; "))
		return
	}
	add("student accounts", OK, "student1…student%d can have uids %d…%d", n, ac.UIDBase+1, ac.UIDBase+n)
}
