package legacy_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/mail/smtptest"
)

const apidbSender = "wod@example.org"

// newRelay is a relay outbox in dir that sends to the SMTP server srv.
func newRelay(t *testing.T, dir string, srv *smtptest.Server) *legacy.Relay {
	t.Helper()
	transport, err := mail.NewSMTP(mail.SMTPConfig{Host: srv.Host, Port: srv.Port, Security: mail.SecurityNone,
		Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &legacy.Relay{Dir: dir, Transport: transport, Retry: 50 * time.Millisecond, MaxAttempts: 3,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	return r
}

// runRelay sends r's mails until the returned stop is called (a crash,
// as far as the outbox on disk is concerned: nothing is flushed).
func runRelay(t *testing.T, r *legacy.Relay) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func relayIntake(spool *legacy.Spool, r *legacy.Relay) *legacy.Intake {
	return &legacy.Intake{Spool: spool, Allow: loopback(), Senders: []string{apidbSender}, Relay: r,
		LocalDomains: []string{"backend.example.org"}}
}

// apidbMail writes a mail the way the original api-db does without
// SendGrid (reference §2.8): all at once, LF line ends, no blank line
// after the Subject, hanging up when the greeting arrives.
func apidbMail(t *testing.T, addr, from, to, subject, text string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("HELO apidb.example.org\nMAIL FROM: " + from + "\nRCPT TO: " + to + "\nDATA\nSubject: " +
		subject + "\n" + text + "\n.\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// sendTo sends over a proper SMTP conversation and returns the server's
// refusal, if any.
func sendTo(addr, from string, to []string, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

const credentials = "The clock has started! You have 4 hours.\nUser Name: student12\nPassword: Xy12ab34\n" +
	"URL: https://backend.example.org:8000/hub/login"

// Without SendGrid the api-db sends its participant mails to its backend:
// the intake passes them to the site's relay, to the participant only,
// while its command mails still go to the spool.
func TestIntakeRelaysParticipantMails(t *testing.T) {
	srv := smtptest.Start(t)
	spool := newSpool(t)
	relay := newRelay(t, filepath.Join(t.TempDir(), "relay"), srv)
	runRelay(t, relay)
	addr := startIntake(t, relayIntake(spool, relay))

	apidbMail(t, addr, apidbSender, "ann@example.net", "HPE Workshops-on-Demand credentials", credentials)
	if err := sendTo(addr, apidbSender, []string{"bob@example.com"},
		"Subject: HPE Workshops-on-Demand\r\n\r\nWelcome to HPE Workshops-on-Demand!\r\nIn a moment, you will receive a second email.\r\n"); err != nil {
		t.Fatalf("welcome mail: %v", err)
	}
	apidbMail(t, addr, apidbSender, "wod@backend.example.org", "CREATE 12 345 ann@example.net", "WKSHP-API101")

	ms := srv.Wait(t, 2, 20*time.Second)
	byTo := map[string]*smtptest.Message{}
	for _, m := range ms {
		if len(m.To) != 1 {
			t.Fatalf("mail to %v: one recipient only", m.To)
		}
		byTo[m.To[0]] = m
	}
	ann, bob := byTo["ann@example.net"], byTo["bob@example.com"]
	if ann == nil || bob == nil {
		t.Fatalf("relayed to %v", byTo)
	}
	if ann.Subject != "HPE Workshops-on-Demand credentials" || ann.From != apidbSender ||
		!strings.Contains(ann.Text, "User Name: student12\r\nPassword: Xy12ab34") || strings.Contains(ann.Text, "\n.") {
		t.Errorf("credentials mail: from %q subject %q text %q", ann.From, ann.Subject, ann.Text)
	}
	if got := ann.Header.Get("To"); got != "<ann@example.net>" && got != "ann@example.net" {
		t.Errorf("To header %q", got)
	}
	if bob.Subject != "HPE Workshops-on-Demand" || !strings.Contains(bob.Text, "In a moment, you will receive a second email.") {
		t.Errorf("welcome mail: subject %q text %q", bob.Subject, bob.Text)
	}
	if es := waitEntries(t, spool, 1); len(es) != 1 || es[0].Command.Verb != legacy.Create || es[0].Command.Student != 12 {
		t.Errorf("the command mail: %+v", es)
	}
	waitRelayEmpty(t, relay)
}

// Never an open relay: only the api-db's sender, over a connection the
// intake admits, to one address outside this backend, gets a mail
// relayed; everything else is refused, and nothing reaches the relay.
func TestIntakeRefusesToRelay(t *testing.T) {
	srv := smtptest.Start(t)
	spool := newSpool(t)
	relay := newRelay(t, filepath.Join(t.TempDir(), "relay"), srv)
	runRelay(t, relay)
	addr := startIntake(t, relayIntake(spool, relay))
	body := "Subject: Cheap watches\r\n\r\nBuy now.\r\n"

	for _, c := range []struct {
		what string
		from string
		to   []string
		code int
	}{
		{"another sender", "mallory@example.org", []string{"victim@example.net"}, 550},
		{"a null sender", "", []string{"victim@example.net"}, 550},
		{"this backend's own address", apidbSender, []string{"wod@backend.example.org"}, 554},
		{"this backend's own address, differently cased", apidbSender, []string{"root@Backend.Example.Org"}, 554},
		{"localhost", apidbSender, []string{"student1@localhost"}, 554},
		{"an address literal", apidbSender, []string{"root@[127.0.0.1]"}, 554},
		{"a bare local name", apidbSender, []string{"root"}, 501}, // refused by the SMTP parser already
		{"several recipients", apidbSender, []string{"ann@example.net", "victim@example.net"}, 554},
	} {
		err := sendTo(addr, c.from, c.to, body)
		if code := smtpCode(err); code != c.code {
			t.Errorf("%s: answered %v, want %d", c.what, err, c.code)
		}
	}

	// A network the intake does not allow is refused before it can say
	// anything, whatever sender it claims (Postfix's mynetworks).
	elsewhere := &legacy.Intake{Spool: spool, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Senders: []string{apidbSender}, Relay: relay}
	if err := sendTo(startIntake(t, elsewhere), apidbSender, []string{"ann@example.net"}, body); smtpCode(err) != 554 {
		t.Errorf("from a network not allowed: %v", err)
	}
	// Without an SMTP relay configured, participant mails are refused.
	norelay := &legacy.Intake{Spool: spool, Allow: loopback(), Senders: []string{apidbSender}}
	if err := sendTo(startIntake(t, norelay), apidbSender, []string{"ann@example.net"}, body); smtpCode(err) != 550 {
		t.Errorf("without a relay: %v", err)
	}
	// Nor does a relay without the api-db's sender named relay anything.
	anyone := &legacy.Intake{Spool: spool, Allow: loopback(), Relay: relay}
	if err := sendTo(startIntake(t, anyone), apidbSender, []string{"ann@example.net"}, body); smtpCode(err) != 554 {
		t.Errorf("without --legacy-mail-from: %v", err)
	}

	// The one good mail, last: when it arrived, the refused ones would have too.
	if err := sendTo(addr, apidbSender, []string{"ann@example.net"}, body); err != nil {
		t.Fatalf("the api-db's mail: %v", err)
	}
	ms := srv.Wait(t, 1, 20*time.Second)
	waitRelayEmpty(t, relay)
	if ms = srv.Messages(); len(ms) != 1 || ms[0].To[0] != "ann@example.net" {
		t.Errorf("relayed: %d mails, first to %v", len(ms), ms[0].To)
	}
	if es, _ := spool.Entries(); len(es) != 0 {
		t.Errorf("spooled %d commands", len(es))
	}
}

// A mail the intake answered 250 for is on disk: a crash before it went
// out, or while the site's relay is down, sends it after the restart, with
// the Message-ID it was given when it arrived.
func TestRelaySurvivesRestart(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Refuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	dir := filepath.Join(t.TempDir(), "relay")
	spool := newSpool(t)

	// Accepted while nothing sends (the agent dies right after the 250).
	before := newRelay(t, dir, srv)
	addr := startIntake(t, relayIntake(spool, before))
	apidbMail(t, addr, apidbSender, "ann@example.net", "HPE Workshops-on-Demand credentials", credentials)
	pending := waitRelayPending(t, before, func(ms []*legacy.Relayed) bool { return len(ms) == 1 })
	id := pending[0].Message.MessageID

	// Restarted, while the site's relay answers 451: kept, retried.
	stop := runRelay(t, newRelay(t, dir, srv))
	waitRelayPending(t, before, func(ms []*legacy.Relayed) bool { return len(ms) == 1 && ms[0].Attempts >= 1 })
	stop()
	if len(srv.Messages()) != 0 {
		t.Fatal("a refused mail arrived")
	}

	// Restarted again, the relay back: it goes, once.
	srv.Refuse(nil)
	after := newRelay(t, dir, srv)
	runRelay(t, after)
	ms := srv.Wait(t, 1, 20*time.Second)
	waitRelayEmpty(t, after)
	if len(srv.Messages()) != 1 || ms[0].MessageID != id || ms[0].To[0] != "ann@example.net" {
		t.Errorf("after the restart: %d mails, Message-ID %q (kept %q)", len(srv.Messages()), ms[0].MessageID, id)
	}
}

// A mail the site's relay refuses for good is set aside for operators,
// not retried forever.
func TestRelayGivesUpRefusedMail(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Refuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	relay := newRelay(t, filepath.Join(t.TempDir(), "relay"), srv)
	runRelay(t, relay)
	addr := startIntake(t, relayIntake(newSpool(t), relay))
	apidbMail(t, addr, apidbSender, "gone@example.net", "HPE Workshops-on-Demand", "Welcome!")
	deadline := time.Now().Add(20 * time.Second)
	for {
		failed, err := relay.Failed()
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 {
			b, err := os.ReadFile(filepath.Join(relay.Dir, "failed", failed[0]))
			if err != nil || !strings.Contains(string(b), "no such user") || !strings.Contains(string(b), "gone@example.net") {
				t.Errorf("failed mail: %s %v", b, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refused mail was not set aside")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitRelayEmpty(t, relay)
}

func waitRelayPending(t *testing.T, r *legacy.Relay, done func([]*legacy.Relayed) bool) []*legacy.Relayed {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ms, errs := r.Pending()
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if done(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay outbox: %+v", ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitRelayEmpty(t *testing.T, r *legacy.Relay) {
	t.Helper()
	waitRelayPending(t, r, func(ms []*legacy.Relayed) bool { return len(ms) == 0 })
}

// TestRelayPendingWhileSent: a mail sent and removed while the outbox is
// being listed (the relay runs beside a listing) is not an error, and is not
// set aside.
func TestRelayPendingWhileSent(t *testing.T) {
	dir := t.TempDir()
	r := &legacy.Relay{Dir: dir}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := int64(1); ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			// Written as the relay writes: whole, then renamed into place.
			p, tmp := filepath.Join(dir, fmt.Sprintf("%020d.json", id)), filepath.Join(dir, ".tmp-test")
			if err := os.WriteFile(tmp, []byte(fmt.Sprintf(`{"id":%d,"attempts":0}`, id)), 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Error(err)
				return
			}
			os.Remove(p)
		}
	}()
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, errs := r.Pending(); len(errs) > 0 {
			close(stop)
			<-done
			t.Fatalf("listing while mails are sent: %v", errs)
		}
	}
	close(stop)
	<-done
	if bad, _ := filepath.Glob(filepath.Join(dir, "*.bad")); len(bad) > 0 {
		t.Fatalf("set aside: %v", bad)
	}
}
