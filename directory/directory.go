// Package directory sets students' passwords in an LDAP directory, for the
// workshops whose appliances log the students in against it (the
// original's `ldap: true`): the directory gets the password the hub has,
// and loses it when the seat is locked.
package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Directory is an LDAP server and the account that may change students'
// passwords (the original binds as "cn=Directory Manager").
type Directory struct {
	// URL is ldap://host:389 or ldaps://host:636.
	URL      string
	BindDN   string
	Password string
	// UserDN is the student's entry, with {N} for the student number,
	// e.g. uid=student{N},ou=People,dc=example,dc=org.
	UserDN string
	// Timeout bounds one change (default 15 s).
	Timeout time.Duration
	// TLS configures ldaps:// (default: the system's roots).
	TLS *tls.Config
}

// DN is student n's entry.
func (d *Directory) DN(n int) string {
	return strings.ReplaceAll(d.UserDN, "{N}", strconv.Itoa(n))
}

// SetPassword gives student n the password in the directory. It uses the
// password modify operation (RFC 3062), so the server stores the password
// hashed as it is configured to; a server without it gets userPassword
// replaced, as the original's ldapmodify does.
func (d *Directory) SetPassword(ctx context.Context, n int, password string) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	dn := d.DN(n)
	_, err = conn.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", password))
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultProtocolError) {
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace("userPassword", []string{password})
		err = conn.Modify(req)
	}
	if err != nil {
		return fmt.Errorf("ldap: password of %s: %w", dn, err)
	}
	return nil
}

// Check binds as the configured account, changing nothing.
func (d *Directory) Check(ctx context.Context) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (d *Directory) connect(ctx context.Context) (*ldap.Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("ldap: %w", context.DeadlineExceeded)
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout})}
	if d.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(d.TLS))
	}
	conn, err := ldap.DialURL(d.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap: %s: %w", d.URL, err)
	}
	conn.SetTimeout(timeout)
	if err := conn.Bind(d.BindDN, d.Password); err != nil {
		conn.Close()
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, fmt.Errorf("ldap: %s refuses the password of %s", d.URL, d.BindDN)
		}
		return nil, fmt.Errorf("ldap: bind as %s: %w", d.BindDN, err)
	}
	return conn, nil
}

// Validate checks the settings.
func (d *Directory) Validate() error {
	var errs []error
	if !strings.HasPrefix(d.URL, "ldap://") && !strings.HasPrefix(d.URL, "ldaps://") {
		errs = append(errs, fmt.Errorf("--ldap-url %q must start with ldap:// or ldaps://", d.URL))
	}
	if d.BindDN == "" || d.Password == "" {
		errs = append(errs, errors.New("--ldap-url needs --ldap-bind-dn and its password (WOD_LDAP_PASSWORD or --ldap-password-file)"))
	}
	if !strings.Contains(d.UserDN, "{N}") {
		errs = append(errs, fmt.Errorf("--ldap-user-dn %q must hold {N}, the student number, e.g. uid=student{N},ou=People,dc=example,dc=org", d.UserDN))
	} else if _, err := ldap.ParseDN(d.DN(1)); err != nil {
		errs = append(errs, fmt.Errorf("--ldap-user-dn %q: %v", d.UserDN, err))
	}
	return errors.Join(errs...)
}
