// Package directorytest runs a real LDAP server (Debian's slapd) for tests.
package directorytest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wod-dev/wod/testenv"
)

// Suffix and Manager: the directory's base and the account that may change
// passwords.
const (
	Suffix  = "dc=wod,dc=test"
	Manager = "cn=Directory Manager," + Suffix
)

// Start runs a throwaway OpenLDAP server (Debian's slapd) on a free
// loopback port with ou=People holding student7 and student8 (password
// "initial-Pass"), and returns its URL and the Manager's password. Students
// are uid=student<N>,ou=People,Suffix; AddStudent adds more.
func Start(t testing.TB) (string, string) {
	t.Helper()
	bin := "/usr/sbin/slapd"
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "WOD_TEST_REQUIRE_LDAP", "slapd is not installed: %v (scripts/test installs it)", err)
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "db"), 0o700)
	password := "Manager-" + fmt.Sprint(time.Now().UnixNano())
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
database mdb
maxsize 10485760
Suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
`, dir, Suffix, Manager, password)
	confPath := filepath.Join(dir, "slapd.conf")
	os.WriteFile(confPath, []byte(conf), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "ldap://" + addr
	var out strings.Builder
	cmd := exec.Command(bin, "-d", "0", "-h", url+"/", "-f", confPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn *ldap.Conn
	for deadline := time.Now().Add(15 * time.Second); ; {
		if conn, err = ldap.DialURL(url); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not answer: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer conn.Close()
	if err := conn.Bind(Manager, password); err != nil {
		t.Fatal(err)
	}
	add := func(dn string, attrs map[string][]string) {
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := conn.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"wod"}, "o": {"wod test"}})
	add("ou=People,"+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"People"}})
	for _, n := range []int{7, 8} {
		AddStudent(t, url, password, n)
	}
	return url, password
}

// AddStudent adds student n, with the password "initial-Pass".
func AddStudent(t testing.TB, url, password string, n int) {
	t.Helper()
	conn, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(Manager, password); err != nil {
		t.Fatal(err)
	}
	req := ldap.NewAddRequest(fmt.Sprintf("uid=student%d,ou=People,%s", n, Suffix), nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{fmt.Sprintf("student%d", n)})
	req.Attribute("cn", []string{"Student"})
	req.Attribute("sn", []string{"Student"})
	req.Attribute("userPassword", []string{"initial-Pass"})
	if err := conn.Add(req); err != nil {
		t.Fatalf("add student %d: %v", n, err)
	}
}

// CanBind reports whether dn logs in with password.
func CanBind(t testing.TB, url, dn, password string) bool {
	t.Helper()
	conn, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.Bind(dn, password) == nil
}
