package directory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/wod-dev/wod/directory"
	"github.com/wod-dev/wod/directory/directorytest"
)

func TestSetPassword(t *testing.T) {
	url, password := directorytest.Start(t)
	ctx := context.Background()
	d := &directory.Directory{URL: url, BindDN: directorytest.Manager, Password: password, UserDN: "uid=student{N},ou=People," + directorytest.Suffix}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
	student7 := "uid=student7,ou=People," + directorytest.Suffix
	if !directorytest.CanBind(t, url, student7, "initial-Pass") {
		t.Fatal("the fixture's student cannot log in")
	}
	if err := d.SetPassword(ctx, 7, "new-Pass-1"); err != nil {
		t.Fatal(err)
	}
	if !directorytest.CanBind(t, url, student7, "new-Pass-1") || directorytest.CanBind(t, url, student7, "initial-Pass") {
		t.Fatal("the new password is not the one the directory takes")
	}
	if !directorytest.CanBind(t, url, "uid=student8,ou=People,"+directorytest.Suffix, "initial-Pass") {
		t.Fatal("another student's password changed")
	}
	// The directory keeps it hashed, as it is configured to.
	conn, _ := ldap.DialURL(url)
	defer conn.Close()
	conn.Bind(directorytest.Manager, password)
	res, err := conn.Search(ldap.NewSearchRequest(student7, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"userPassword"}, nil))
	if err != nil || len(res.Entries) != 1 || !strings.HasPrefix(res.Entries[0].GetAttributeValue("userPassword"), "{SSHA}") {
		t.Errorf("stored password: %v %v", res, err)
	}

	if err := d.SetPassword(ctx, 9, "x-Pass-2"); err == nil || !strings.Contains(err.Error(), "uid=student9,ou=People,"+directorytest.Suffix) {
		t.Errorf("a student the directory does not have: %v", err)
	}
	bad := *d
	bad.Password = "wrong"
	if err := bad.SetPassword(ctx, 7, "x-Pass-3"); err == nil || !strings.Contains(err.Error(), "refuses the password of "+directorytest.Manager) {
		t.Errorf("wrong directorytest.Manager password: %v", err)
	}
	if strings.Contains(fmt.Sprint(bad.Check(ctx)), "wrong") {
		t.Error("an error shows the password")
	}
	down := *d
	down.URL = "ldap://127.0.0.1:1"
	if err := down.Check(ctx); err == nil {
		t.Error("a directory that does not answer passes the check")
	}
}

func TestValidate(t *testing.T) {
	d := &directory.Directory{URL: "http://ldap", UserDN: "uid=student,ou=People"}
	err := d.Validate()
	for _, want := range []string{"must start with ldap://", "needs --ldap-bind-dn", "must hold {N}"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
	d = &directory.Directory{URL: "ldaps://ldap:636", BindDN: "cn=x", Password: "p", UserDN: "uid=student{N},,,=bad"}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "--ldap-user-dn") {
		t.Errorf("bad DN: %v", err)
	}
}
