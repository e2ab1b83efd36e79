package mail

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a real SMTP server on 127.0.0.1 that keeps what it
// receives.
type testServer struct {
	host string
	port int

	user, pass string          // AUTH PLAIN with this user when set
	rcptErr    *smtp.SMTPError // RCPT reply when set

	mu       sync.Mutex
	received []received
}

type received struct {
	from  string
	to    []string
	data  []byte
	tls   bool
	authn bool
}

type serverOptions struct {
	mode       string // "plain", "starttls" or "tls"
	user, pass string
	rcptErr    *smtp.SMTPError
}

func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	ts := &testServer{user: o.user, pass: o.pass, rcptErr: o.rcptErr}
	srv := smtp.NewServer(backend{ts})
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected in some tests
	// AUTH over a clear connection, for the loopback "none" mode only.
	srv.AllowInsecureAuth = o.mode == "plain"
	var l net.Listener
	var err error
	switch o.mode {
	case "plain":
		l, err = net.Listen("tcp", "127.0.0.1:0")
	case "starttls":
		srv.TLSConfig = serverTLS(t)
		l, err = net.Listen("tcp", "127.0.0.1:0")
	case "tls":
		srv.TLSConfig = serverTLS(t)
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	default:
		t.Fatalf("unknown server mode %q", o.mode)
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.host, ts.port = splitAddr(t, l.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ts
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, p
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.received...)
}

// serverTLS is a self-signed certificate for 127.0.0.1 and localhost.
func serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wod test SMTP server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

type backend struct{ ts *testServer }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{ts: b.ts, conn: c}, nil
}

type session struct {
	ts    *testServer
	conn  *smtp.Conn
	authn bool
	from  string
	to    []string
}

func (s *session) AuthMechanisms() []string {
	if s.ts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.ts.user || password != s.ts.pass {
			return smtp.ErrAuthFailed
		}
		s.authn = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.user != "" && !s.authn {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.rcptErr != nil {
		return s.ts.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.received = append(s.ts.received, received{from: s.from, to: s.to, data: b, tls: isTLS, authn: s.authn})
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }
