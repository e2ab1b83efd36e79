package preflight

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"time"
)

// certWarning is how long before its end a certificate deserves a look:
// an ACME client renews 30 days ahead, so one 14 days from its end has
// missed renewals.
const certWarning = 14 * 24 * time.Hour

// checkCertificate dials the public URL and judges the certificate it
// presents: participants and learning platforms are refused once it ends.
func (c *Checker) checkCertificate(ctx context.Context, add addCheck) {
	u, err := url.Parse(c.Config.PublicURL)
	if err != nil || u.Scheme != "https" {
		add("tls certificate", Skip, "the public URL %s is not https (a proxy in front may hold the certificate)", c.Config.PublicURL)
		return
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Read the chain without verifying, so that an expired or untrusted
	// one is reported as such, not as a failed dial.
	d := &tls.Dialer{Config: &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		add("tls certificate", Fail, "%s: %v", host, err)
		return
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	status, detail := certVerdict(chain, u.Hostname(), c.now(), c.Roots)
	add("tls certificate", status, "%s", detail)
}

func (c *Checker) now() time.Time {
	if c.Clock != nil {
		return c.Clock.Now()
	}
	return time.Now()
}

// certVerdict: expired (or not valid yet) FAILs, under certWarning WARNs;
// a chain the roots do not trust for host FAILs (browsers refuse it).
func certVerdict(chain []*x509.Certificate, host string, now time.Time, roots *x509.CertPool) (Status, string) {
	if len(chain) == 0 {
		return Fail, "no certificate presented"
	}
	leaf := chain[0]
	end := leaf.NotAfter.UTC().Format(time.RFC3339)
	if now.After(leaf.NotAfter) {
		return Fail, fmt.Sprintf("the certificate of %s expired on %s", host, end)
	}
	if now.Before(leaf.NotBefore) {
		return Fail, fmt.Sprintf("the certificate of %s is not valid before %s (is the clock right?)", host,
			leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: now}); err != nil {
		return Fail, fmt.Sprintf("the certificate of %s is refused: %v", host, err)
	}
	left := leaf.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	if left < certWarning {
		return Warn, fmt.Sprintf("the certificate of %s ends in %d days (%s): renew it", host, days, end)
	}
	return OK, fmt.Sprintf("the certificate of %s is valid for %d more days (until %s)", host, days, end)
}
