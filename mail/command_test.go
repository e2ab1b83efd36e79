package mail_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/mail/smtptest"
)

// TestCommandSender sends a command mail to a real SMTP server and reads
// back the bytes procmail would get: the original's subject, a blank
// line, the notebook, CRLF line ends, no other header.
func TestCommandSender(t *testing.T) {
	pf := smtptest.Start(t)
	l := &wod.Location{Name: "be", Kind: wod.LocationLegacy, BackendEmail: "wod@backend.test", BackendSMTP: pf.Addr}
	s := &mail.CommandSender{From: "wod@acme.test", HELO: "wod.test", Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := s.SendCommand(ctx, l, "CREATE 3 42 ann@example.org", "WKSHP-API101"); err != nil {
		t.Fatal(err)
	}
	ms := pf.Wait(t, 1, 5*time.Second)
	if got, want := string(ms[0].Raw), "Subject: CREATE 3 42 ann@example.org\r\n\r\nWKSHP-API101\r\n"; got != want {
		t.Fatalf("bytes: %q, want %q", got, want)
	}
	if !slices.Equal(ms[0].To, []string{"wod@backend.test"}) {
		t.Fatalf("envelope recipients: %q", ms[0].To)
	}
	// A line break would smuggle a header or a second command: refused
	// before anything is sent.
	if err := s.SendCommand(ctx, l, "CLEANUP 3 42\r\nSubject: PURGE 4 0", "WKSHP-API101"); err == nil || !mail.IsPermanent(err) {
		t.Fatalf("a subject with a line break: %v", err)
	}
	// A Postfix that refuses: an error worth retrying.
	pf.Refuse(&smtpError{})
	if err := s.SendCommand(ctx, l, "CLEANUP 3 42", "WKSHP-API101"); err == nil {
		t.Fatal("a refused command mail reported sent")
	}
	if n := len(pf.Messages()); n != 1 {
		t.Fatalf("%d mails arrived", n)
	}
}

type smtpError struct{}

func (*smtpError) Error() string { return "451 4.3.0 try again later" }
