package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent/btrfstest"
	"github.com/wod-dev/wod/directory/directorytest"
	"github.com/wod-dev/wod/legacy/apidbtest"
	"github.com/wod-dev/wod/lti/ltitest"
	"github.com/wod-dev/wod/mail/smtptest"
	"github.com/wod-dev/wod/store"
)

// TestCheck: wod check reports each check, changes nothing, and fails on
// what would stop the role.
func TestCheck(t *testing.T) {
	data := t.TempDir()
	common := []string{"--data", data, "--log-level", "error"}
	check := func(args ...string) (int, string) {
		t.Helper()
		code, out, errOut := runWod(t, "", append(append([]string{"check"}, args...), common...)...)
		return code, out + errOut
	}
	line := func(out, status, name, detail string) bool {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == status && strings.HasPrefix(strings.TrimSpace(l[len(f[0]):]), name) && strings.Contains(l, detail) {
				return true
			}
		}
		return false
	}

	code, out := check("--role", "server")
	if code != 0 || !line(out, "ok", "database", "created at the first start") || !line(out, "warn", "smtp", "outbox") {
		t.Fatalf("fresh server check: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "wod.db")); err == nil {
		t.Fatal("wod check created the database")
	}

	if code, _, errOut := runWod(t, "", append([]string{"migrate"}, common...)...); code != 0 {
		t.Fatal(errOut)
	}
	smtp := smtptest.Start(t)
	code, out = check("--role", "server", "--smtp-host", smtp.Host, "--smtp-port", fmt.Sprint(smtp.Port), "--smtp-security", "none")
	if code != 0 || !line(out, "ok", "database", "schema current") || !line(out, "ok", "smtp", smtp.Host) {
		t.Fatalf("server check with a relay: %d\n%s", code, out)
	}
	if n := len(smtp.Messages()); n != 0 {
		t.Fatalf("wod check sent %d mails", n)
	}

	// Learning platforms: their key sets must answer.
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(data, "wod.db"), wod.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	plat := ltitest.New(t)
	defer db.Close()
	gone := &wod.LTIPlatform{Name: "gone", Issuer: "https://gone.example", ClientID: "b", AuthURL: "https://gone.example/auth",
		JWKSURL: "http://127.0.0.1:1/jwks"}
	for _, p := range []*wod.LTIPlatform{gone,
		{Name: "moodle", Issuer: "https://lms.example", ClientID: "a", AuthURL: "https://lms.example/auth", JWKSURL: plat.JWKSURL()},
	} {
		if err := db.CreateLTIPlatform(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	code, out = check("--role", "server")
	if code == 0 || !line(out, "ok", "lti", "moodle: 1 key(s)") || !line(out, "FAIL", "lti", "gone: its key set") {
		t.Fatalf("server check with learning platforms: %d\n%s", code, out)
	}
	if err := db.DeleteLTIPlatform(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	code, out = check("--role", "server", "--smtp-host", "127.0.0.1", "--smtp-port", fmt.Sprint(closed), "--smtp-security", "none")
	if code == 0 || !line(out, "FAIL", "smtp", fmt.Sprint(closed)) || !strings.Contains(out, "1 checks failed") {
		t.Fatalf("server check with no relay: %d\n%s", code, out)
	}

	// A key others can read (as a careless copy leaves it).
	key := filepath.Join(data, "signing.key")
	os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), 0o644)
	code, out = check("--role", "server")
	if code == 0 || !line(out, "FAIL", "keys", "others can read it") {
		t.Fatalf("server check with a readable key: %d\n%s", code, out)
	}
	os.Remove(key)

	// The agent's server, unreachable.
	code, out = check("--role", "agent", "--server", fmt.Sprintf("http://127.0.0.1:%d", closed), "--agent-token", "t0ken")
	if code == 0 || !line(out, "FAIL", "server", fmt.Sprint(closed)) {
		t.Fatalf("agent check with no server: %d\n%s", code, out)
	}
	if strings.Contains(out, "t0ken") {
		t.Fatal("the agent token is in the output")
	}
	// The hub URL participants get, and why: this machine's reachable
	// name or address (--hub-addr :8000, every interface); a given one is
	// said to be given.
	if !regexp.MustCompile(`(?m)^(ok|warn)\s+hub URL\s+participants are sent to http://\S+:8000\n\s+\((the host name|this machine)`).MatchString(out) {
		t.Fatalf("agent check: no hub URL with its reason:\n%s", out)
	}
	if _, out = check("--role", "agent", "--hub-url", "https://hub.example.org"); !line(out, "ok", "hub URL", "https://hub.example.org") ||
		!strings.Contains(out, "(given (--hub-url))") {
		t.Fatalf("agent check with --hub-url:\n%s", out)
	}
	// This test machine's memory, cpu and pids are v1 hierarchies.
	if os.Geteuid() == 0 && !line(out, "ok", "student limits", "cgroup v1 (memory at") && !line(out, "ok", "student limits", "cgroup v2") {
		t.Fatalf("agent check does not say which cgroup hierarchy holds the limits:\n%s", out)
	}

	// The original api-db's backend: its login and the command mails' port.
	api := apidbtest.New(t, nil, 0, 3)
	api.SetAssigned(2, true)
	mailAddr := freeAddr(t)
	code, out = check("--role", "agent", "--legacy-api", api.URL, "--legacy-api-password", api.Password,
		"--legacy-mail-addr", mailAddr)
	if !line(out, "ok", "api-db", "1 of this backend's students assigned") || !line(out, "ok", "command mails", mailAddr+" is free") {
		t.Fatalf("legacy agent check: %d\n%s", code, out)
	}
	if strings.Contains(out, api.Password) {
		t.Fatal("the api-db password is in the output")
	}
	code, out = check("--role", "agent", "--legacy-api", api.URL, "--legacy-api-password", "wrong")
	if code == 0 || !line(out, "FAIL", "api-db", "login as moderator: 401") {
		t.Fatalf("legacy agent check with a wrong password: %d\n%s", code, out)
	}
	if code, out = check("--role", "agent", "--legacy-api", "ftp://apidb"); code == 0 || !strings.Contains(out, "must be an http(s) URL") ||
		!strings.Contains(out, "needs --legacy-api-user and its password") {
		t.Fatalf("legacy agent check, bad configuration: %d\n%s", code, out)
	}

	// The LDAP directory of the workshops with ldap: true.
	ldapURL, ldapPassword := directorytest.Start(t)
	ldapArgs := []string{"--role", "agent", "--ldap-url", ldapURL, "--ldap-bind-dn", directorytest.Manager,
		"--ldap-user-dn", "uid=student{N},ou=People," + directorytest.Suffix}
	if _, out = check(append(ldapArgs, "--ldap-password", ldapPassword)...); !line(out, "ok", "ldap", "students are uid=student1,ou=People") {
		t.Fatalf("ldap check: %s", out)
	}
	if code, out = check(append(ldapArgs, "--ldap-password", "wrong")...); code == 0 || !line(out, "FAIL", "ldap", "refuses the password") {
		t.Fatalf("ldap check with a wrong password: %d %s", code, out)
	}

	// Content that would not render fails the check.
	dir := t.TempDir()
	writeWorkshop(t, dir, "WKSHP-Tpl", "name: Tpl\nrange: [1,3]\n")
	os.WriteFile(filepath.Join(dir, "WKSHP-Tpl", "1-Lab.ipynb"), []byte(`{"cells":[],"metadata":{"x":"{{ NOPE }}"},"nbformat":4,"nbformat_minor":4}`), 0o644)
	code, out = check("--role", "server", "--content", dir)
	if code == 0 || !line(out, "FAIL", "content", "WKSHP-Tpl") || !strings.Contains(out, `undefined variable "NOPE"`) {
		t.Fatalf("server check with bad content: %d\n%s", code, out)
	}

	if code, out := check("--role", "cluster"); code == 0 || !strings.Contains(out, "want up, server or agent") {
		t.Fatalf("unknown role: %d %s", code, out)
	}
}

// TestCheckDiskLimit: wod check says which disk limit applies to the
// student root: a btrfs qgroup per home, or none with the way out.
func TestCheckDiskLimit(t *testing.T) {
	mnt := btrfstest.Mount(t)
	common := []string{"check", "--role", "agent", "--data", t.TempDir(), "--log-level", "error", "--server", "http://127.0.0.1:1",
		"--agent-token", "t"}
	_, out, errOut := runWod(t, "", append(common, "--student-root", filepath.Join(mnt, "student"), "--student-disk", "1G")...)
	if !strings.Contains(out+errOut, "disk limit") || !strings.Contains(out, "btrfs at "+mnt+": every home a subvolume") ||
		!strings.Contains(out, "1G per student") {
		t.Fatalf("btrfs student root:\n%s%s", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(mnt, "student")); err == nil {
		t.Fatal("wod check created the student root")
	}

	tmpfs := filepath.Join(t.TempDir(), "tmpfs")
	os.Mkdir(tmpfs, 0o755)
	if o, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "wodtest", tmpfs).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, o)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", tmpfs).Run() })
	_, out, errOut = runWod(t, "", append(common, "--student-root", filepath.Join(tmpfs, "student"), "--student-disk", "1G")...)
	found := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "warn") && strings.Contains(l, "disk limit") &&
			strings.Contains(l, "no disk limit: the student root is on tmpfs") && strings.Contains(l, "put the student root on btrfs") {
			found = true
		}
	}
	if !found {
		t.Fatalf("tmpfs student root:\n%s%s", out, errOut)
	}
}
