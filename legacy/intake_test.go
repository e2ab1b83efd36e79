package legacy_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wod-dev/wod/legacy"
)

// startIntake serves an intake on a free loopback port.
func startIntake(t *testing.T, in *legacy.Intake) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func newSpool(t *testing.T) *legacy.Spool {
	t.Helper()
	s := &legacy.Spool{Dir: filepath.Join(t.TempDir(), "spool")}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitEntries(t *testing.T, s *legacy.Spool, n int) []*legacy.Entry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, errs := s.Entries()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if len(es) >= n {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries in the spool, want %d", len(es), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// The original api-db writes the whole conversation at once with LF line
// ends, no blank line after the Subject, and hangs up when the greeting
// arrives (reference §2.8): the command must still get through.
func TestIntakeTakesTheOriginalsRawMail(t *testing.T) {
	spool := newSpool(t)
	accepted := make(chan struct{}, 1)
	addr := startIntake(t, &legacy.Intake{Spool: spool, Allow: loopback(),
		Senders: []string{"WOD@example.org"}, Accepted: func() { accepted <- struct{}{} }})

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("HELO apidb.example.org\nMAIL FROM: wod@example.org\nRCPT TO: wod@backend.example.org\n" +
		"DATA\nSubject: CREATE 12 345 ann@example.org\nWKSHP-API101\n.\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := conn.Read(buf); err != nil { // the greeting: the original destroys the socket
		t.Fatal(err)
	}
	conn.Close()
	<-accepted
	es := waitEntries(t, spool, 1)
	c := es[0].Command
	if c.Verb != legacy.Create || c.Student != 12 || c.Customer != 345 || c.Notebook != "WKSHP-API101" ||
		es[0].From != "wod@example.org" || !strings.HasPrefix(es[0].Remote, "127.0.0.1:") {
		t.Fatalf("spooled %+v", es[0])
	}
	if fi, err := os.Stat(spool.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("spool directory: %v, %v", fi.Mode(), err)
	}
}

func TestIntakeRefusals(t *testing.T) {
	spool := newSpool(t)
	addr := startIntake(t, &legacy.Intake{Spool: spool, Allow: loopback(), Senders: []string{"wod@example.org"}})
	send := func(from, body string) error { return sendPlain(addr, from, body) }
	code := func(err error) int {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se.Code
		}
		return 0
	}

	// A proper mail gets through; RESET of a range is one command per student.
	if err := send("wod@example.org", "Subject: RESET 2,4 0\r\n\r\nWKSHP-OneView\r\n"); err != nil {
		t.Fatalf("good mail: %v", err)
	}
	if es := waitEntries(t, spool, 3); es[0].Command.Student != 2 || es[2].Command.Student != 4 || es[0].ID >= es[1].ID {
		t.Fatalf("range: %+v %+v %+v", es[0], es[1], es[2])
	}
	// The original's broken RESET/PURGE subjects are refused, with why.
	err := send("wod@example.org", "Subject: PURGE [object Promise] 42\r\n\r\nWKSHP-API101\r\n")
	if code(err) != 550 || !strings.Contains(err.Error(), "want CREATE|CLEANUP|RESET|PURGE") {
		t.Errorf("bad subject: %v", err)
	}
	// Anyone else is refused (the original's sender check was commented out).
	if err := send("mallory@example.org", "Subject: PURGE 1 1\r\n\r\n"); code(err) != 550 {
		t.Errorf("unknown sender: %v", err)
	}
	if es, _ := spool.Entries(); len(es) != 3 {
		t.Errorf("%d entries after refusals, want 3", len(es))
	}

	// A network that is not allowed is refused at once.
	other := startIntake(t, &legacy.Intake{Spool: spool, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	err = sendPlain(other, "wod@example.org", "Subject: PURGE 1 1\r\n\r\n")
	if code(err) != 554 {
		t.Errorf("network not allowed: %v", err)
	}
	if es, _ := spool.Entries(); len(es) != 3 {
		t.Errorf("%d entries after refusals, want 3", len(es))
	}
}

// sendPlain sends a mail without TLS, as the api-db does to its backend.
func sendPlain(addr, from, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, []string{"wod@backend"}, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

func TestParseNetworks(t *testing.T) {
	got, err := legacy.ParseNetworks([]string{"10.1.2.3/8", "192.0.2.7", " ::1 "})
	if err != nil || len(got) != 3 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.0.2.7/32" || got[2].String() != "::1/128" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := legacy.ParseNetworks([]string{"backend.example"}); err == nil {
		t.Fatal("a host name is not a network")
	}
}

// recordsTo is a slog handler that sends every record to a channel.
type recordsTo chan slog.Record

func (h recordsTo) Enabled(context.Context, slog.Level) bool { return true }
func (h recordsTo) Handle(_ context.Context, r slog.Record) error {
	h <- r.Clone()
	return nil
}
func (h recordsTo) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordsTo) WithGroup(string) slog.Handler      { return h }

// The SMTP server's own error log goes to the intake's logger: a
// connection that ends with a reset mid-conversation is a warning there.
func TestIntakeLogsTheServersErrors(t *testing.T) {
	records := make(recordsTo, 16)
	addr := startIntake(t, &legacy.Intake{Spool: newSpool(t), Allow: loopback(), Logger: slog.New(records)})

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 512)); err != nil { // the greeting
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetLinger(0) // close with a reset
	conn.Close()

	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-records:
			if r.Level == slog.LevelWarn && strings.Contains(r.Message, "legacy mail intake: error handling 127.0.0.1:") &&
				strings.Contains(r.Message, "reset") {
				return
			}
			t.Logf("other record: %s %s", r.Level, r.Message)
		case <-timeout:
			t.Fatal("no warning of the reset connection in the intake's log")
		}
	}
}
