// Package smtptest runs a real SMTP server on loopback for tests: mails
// travel over TCP through the same client code as in production, and the
// test reads back what arrived, parsed.
package smtptest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	From, Subject, MessageID string
	To                       []string // envelope recipients
	Header                   mail.Header
	Text, HTML               string
	Raw                      []byte
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port
	Host string
	Port int

	mu       sync.Mutex
	messages []*Message
	arrived  chan struct{}
	srv      *smtp.Server
	// Refuse, when set, answers every RCPT with this error.
	refuse error
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "smtptest.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		s.srv.Close()
		<-done
	})
	a := ln.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = a.String(), a.IP.String(), a.Port
	return s
}

// Refuse makes the server answer every recipient with err (nil accepts again).
func (s *Server) Refuse(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = err
}

// Messages returns what arrived so far.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.messages...)
}

// Wait blocks until n messages have arrived in all, or the timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []*Message {
	t.Helper()
	return s.WaitFor(t, fmt.Sprintf("%d mails", n), timeout, func(ms []*Message) bool { return len(ms) >= n })
}

// WaitFor blocks until done holds for what arrived, or fails the test after
// the timeout naming what it waited for.
func (s *Server) WaitFor(t testing.TB, what string, timeout time.Duration, done func([]*Message) bool) []*Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if ms := s.Messages(); done(ms) {
			return ms
		}
		select {
		case <-s.arrived:
		case <-deadline:
			var subjects []string
			for _, m := range s.Messages() {
				subjects = append(subjects, m.Subject)
			}
			t.Fatalf("no %s within %s; arrived: %q", what, timeout, subjects)
		}
	}
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	refuse := x.s.refuse
	x.s.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	m.To = x.to
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, m)
	x.s.mu.Unlock()
	select { // a signal, not a count: waiters re-read the messages
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func parse(raw []byte) (*Message, error) {
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &Message{Raw: raw, Header: mr.Header}
	m.Subject, _ = mr.Header.Subject()
	m.MessageID, _ = mr.Header.MessageID()
	if from, err := mr.Header.AddressList("From"); err == nil && len(from) > 0 {
		m.From = from[0].Address
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		h, ok := p.Header.(*mail.InlineHeader)
		if !ok {
			continue
		}
		ct, _, _ := h.ContentType()
		b, err := io.ReadAll(p.Body)
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			m.Text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			m.HTML = string(b)
		}
	}
	return m, nil
}
