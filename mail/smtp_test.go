package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gmail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/wod-dev/wod"
)

const (
	testUser     = "relay-user"
	testPassword = "s3cret-Pa55word"
)

// credentialsMessage renders a credentials mail as the dispatcher would
// send it, the placeholder replaced by the password.
func credentialsMessage(t *testing.T) (*Message, Data) {
	t.Helper()
	r := newRenderer(t, fullBranding(), "")
	d := sampleData(wod.MailCredentials)
	subject, text, body := render(t, r, d)
	text = strings.ReplaceAll(text, "{{wod:password}}", "pw-Xy7-42")
	body = strings.ReplaceAll(body, "{{wod:password}}", "pw-Xy7-42")
	return &Message{From: r.brand.From, To: d.To, Subject: subject + " – déjà", Text: text, HTML: body}, d
}

func newTestSMTP(t *testing.T, cfg SMTPConfig) *SMTP {
	t.Helper()
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func send(t *testing.T, s *SMTP, m *Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Send(ctx, m)
}

func TestSMTPDelivers(t *testing.T) {
	for _, c := range []struct {
		name     string
		server   serverOptions
		security string
		auth     bool
	}{
		{"none", serverOptions{mode: "plain"}, SecurityNone, false},
		{"none with auth on loopback", serverOptions{mode: "plain", user: testUser, pass: testPassword}, SecurityNone, true},
		{"starttls with auth", serverOptions{mode: "starttls", user: testUser, pass: testPassword}, SecurityStartTLS, true},
		{"tls", serverOptions{mode: "tls"}, SecurityTLS, false},
		{"tls with auth", serverOptions{mode: "tls", user: testUser, pass: testPassword}, SecurityTLS, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, c.server)
			cfg := SMTPConfig{Host: ts.host, Port: ts.port, Security: c.security, HELO: "wod.test",
				Timeout: 5 * time.Second, InsecureSkipVerify: true}
			if c.auth {
				cfg.Username, cfg.Password = testUser, testPassword
			}
			m, d := credentialsMessage(t)
			if err := send(t, newTestSMTP(t, cfg), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := ts.messages()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			rc := got[0]
			if rc.from != "wod@example.com" || len(rc.to) != 1 || rc.to[0] != d.To {
				t.Errorf("envelope from %q to %q", rc.from, rc.to)
			}
			if wantTLS := c.security != SecurityNone; rc.tls != wantTLS {
				t.Errorf("received over TLS: %v, want %v", rc.tls, wantTLS)
			}
			if rc.authn != c.auth {
				t.Errorf("authenticated: %v, want %v", rc.authn, c.auth)
			}
			checkMessage(t, rc.data, m, d)
		})
	}
}

// checkMessage parses what the server received and checks its headers and
// its two alternative parts.
func checkMessage(t *testing.T, raw []byte, m *Message, d Data) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, raw)
	}
	h := gmail.Header{Header: e.Header}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 ||
		from[0].Address != "wod@example.com" || from[0].Name != "Workshops" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != d.To {
		t.Errorf("To = %v (%v)", to, err)
	}
	if subject, err := h.Subject(); err != nil || subject != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, m.Subject)
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date = %v (%v)", date, err)
	}
	if id, err := h.MessageID(); err != nil || !strings.HasSuffix(id, "@example.com") || len(id) < len("x@example.com")+10 {
		t.Errorf("Message-ID = %q (%v)", id, err)
	}
	if v := e.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}
	mt, _, err := e.Header.ContentType()
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", mt, err)
	}
	parts := map[string]string{}
	mr := e.MultipartReader()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		ct, params, err := p.Header.ContentType()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(params["charset"], "utf-8") {
			t.Errorf("%s part charset = %q", ct, params["charset"])
		}
		b, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		parts[ct] = string(b)
	}
	if len(parts) != 2 {
		t.Fatalf("parts: %v, want text/plain and text/html", keys(parts))
	}
	if text := parts["text/plain"]; !strings.Contains(text, "pw-Xy7-42") || !strings.Contains(text, "student1") ||
		strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n")) != strings.TrimSpace(m.Text) {
		t.Errorf("text part differs from the message text:\n%s", text)
	}
	if body := parts["text/html"]; !strings.Contains(body, d.LaunchURL) || !strings.Contains(body, "pw-Xy7-42") {
		t.Errorf("HTML part lacks the launch URL or the password:\n%s", body)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestSMTPMessageIDAndRecipients(t *testing.T) {
	ts := startServer(t, serverOptions{mode: "plain"})
	s := newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityNone})
	m := &Message{From: "wod@example.com", To: "ops1@example.com, Ops Two <ops2@example.org>",
		Subject: "alert", Text: "text only", MessageID: "<fixed-id-1@wod.example.com>"}
	if err := send(t, s, m); err != nil {
		t.Fatal(err)
	}
	rc := ts.messages()[0]
	if strings.Join(rc.to, ",") != "ops1@example.com,ops2@example.org" {
		t.Errorf("recipients = %v", rc.to)
	}
	e, err := message.Read(bytes.NewReader(rc.data))
	if err != nil {
		t.Fatal(err)
	}
	h := gmail.Header{Header: e.Header}
	if id, _ := h.MessageID(); id != "fixed-id-1@wod.example.com" {
		t.Errorf("Message-ID = %q", id)
	}
	if mt, _, _ := e.Header.ContentType(); mt != "text/plain" {
		t.Errorf("text-only message has Content-Type %q", mt)
	}
}

func TestSMTPErrorClasses(t *testing.T) {
	m, _ := credentialsMessage(t)

	t.Run("550 on RCPT is permanent", func(t *testing.T) {
		ts := startServer(t, serverOptions{mode: "plain",
			rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}})
		err := send(t, newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityNone}), m)
		if err == nil || !IsPermanent(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
		if !strings.Contains(err.Error(), "550") {
			t.Errorf("error %q does not say the reply", err)
		}
	})

	t.Run("451 on RCPT is temporary", func(t *testing.T) {
		ts := startServer(t, serverOptions{mode: "plain",
			rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}})
		err := send(t, newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityNone}), m)
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want temporary", err)
		}
	})

	t.Run("server down is temporary", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		host, port := splitAddr(t, l.Addr().String())
		_ = l.Close()
		err = send(t, newTestSMTP(t, SMTPConfig{Host: host, Port: port, Security: SecurityNone}), m)
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want temporary", err)
		}
	})

	t.Run("wrong password is permanent and not told", func(t *testing.T) {
		ts := startServer(t, serverOptions{mode: "starttls", user: testUser, pass: testPassword})
		const wrong = "wrong-Pa55word-123"
		s := newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Username: testUser, Password: wrong,
			InsecureSkipVerify: true})
		err := send(t, s, m)
		if err == nil || !IsPermanent(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
		for _, out := range []string{err.Error(), s.String(), fmt.Sprintf("%v %+v", s, s.cfg)} {
			if strings.Contains(out, wrong) {
				t.Errorf("the password shows in %q", out)
			}
		}
		if n := len(ts.messages()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})

	t.Run("starttls refuses a server without STARTTLS", func(t *testing.T) {
		ts := startServer(t, serverOptions{mode: "plain"})
		err := send(t, newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityStartTLS}), m)
		if err == nil {
			t.Fatal("sent without STARTTLS")
		}
		if !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("error %q does not say why", err)
		}
		if n := len(ts.messages()); n != 0 {
			t.Errorf("server received %d messages in clear", n)
		}
	})

	t.Run("unverified certificate is refused", func(t *testing.T) {
		ts := startServer(t, serverOptions{mode: "tls"})
		err := send(t, newTestSMTP(t, SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityTLS}), m)
		if err == nil || IsPermanent(err) {
			t.Fatalf("err = %v, want a temporary certificate error", err)
		}
		if n := len(ts.messages()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})

	t.Run("bad addresses are permanent", func(t *testing.T) {
		s := newTestSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: 1, Security: SecurityNone})
		for _, bad := range []*Message{
			{From: "wod@example.com", To: "not an address", Text: "x"},
			{From: "", To: "ann@example.com", Text: "x"},
			{From: "wod@example.com", To: "ann@example.com"},
		} {
			if err := send(t, s, bad); err == nil || !IsPermanent(err) {
				t.Errorf("%+v: err = %v, want permanent", bad, err)
			}
		}
	})
}

// TestSMTPHonoursContext: a server that accepts and never answers must not
// hold Send beyond the context's deadline, whatever the SMTP timeout.
func TestSMTPHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			held <- c // silent: no banner
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		select {
		case c := <-held:
			_ = c.Close()
		default:
		}
	})
	host, port := splitAddr(t, l.Addr().String())
	s := newTestSMTP(t, SMTPConfig{Host: host, Port: port, Security: SecurityNone, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	m, _ := credentialsMessage(t)
	err = s.Send(ctx, m)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send took %v after its context ended", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
		t.Errorf("err = %v, want a temporary deadline error", err)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no host":                 {},
		"scheme in host":          {Host: "smtp://mail.example.com"},
		"bad security":            {Host: "mail.example.com", Security: "ssl"},
		"bad port":                {Host: "mail.example.com", Port: 70000},
		"password without user":   {Host: "mail.example.com", Password: testPassword},
		"clear auth over network": {Host: "mail.example.com", Security: SecurityNone, Username: "u", Password: testPassword},
		"negative timeout":        {Host: "mail.example.com", Timeout: -time.Second},
		"HELO with space":         {Host: "mail.example.com", HELO: "a b"},
	} {
		_, err := NewSMTP(cfg)
		if err == nil {
			t.Errorf("%s: NewSMTP accepted %v", name, cfg)
			continue
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	for security, port := range map[string]int{"": 587, SecurityStartTLS: 587, SecurityTLS: 465, SecurityNone: 25} {
		s, err := NewSMTP(SMTPConfig{Host: "mail.example.com", Security: security})
		if err != nil {
			t.Fatalf("security %q: %v", security, err)
		}
		if s.cfg.Port != port || s.cfg.Timeout != DefaultSMTPTimeout {
			t.Errorf("security %q: port %d timeout %v", security, s.cfg.Port, s.cfg.Timeout)
		}
	}
}

func TestKeep(t *testing.T) {
	var tr Transport = Keep{}
	err := tr.Send(context.Background(), &Message{})
	if !errors.Is(err, ErrKept) || IsPermanent(err) {
		t.Fatalf("Keep.Send = %v", err)
	}
}

// TestSMTPVerify: the relay is reached, secured and logged in to, and
// nothing is sent; a wrong password or a closed port is an error.
func TestSMTPVerify(t *testing.T) {
	ts := startServer(t, serverOptions{mode: "starttls", user: testUser, pass: testPassword})
	cfg := SMTPConfig{Host: ts.host, Port: ts.port, Security: SecurityStartTLS, HELO: "wod.test",
		Timeout: 5 * time.Second, InsecureSkipVerify: true, Username: testUser, Password: testPassword}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := newTestSMTP(t, cfg).Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n := len(ts.messages()); n != 0 {
		t.Fatalf("Verify sent %d messages", n)
	}
	bad := cfg
	bad.Password = "wrong"
	if err := newTestSMTP(t, bad).Verify(ctx); err == nil {
		t.Fatal("Verify with a wrong password succeeded")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := cfg
	closed.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if err := newTestSMTP(t, closed).Verify(ctx); err == nil || !strings.Contains(err.Error(), fmt.Sprint(closed.Port)) {
		t.Fatalf("Verify on a closed port: %v", err)
	}
}
