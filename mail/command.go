package mail

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// CommandSender sends an original wod-backend its command mails (CREATE,
// CLEANUP, RESET, PURGE) over SMTP to its Postfix, in the original
// api-db's format (reference §2.8): only a Subject header, the notebook as
// the body, no From:/To: headers, no MIME. Unlike the api-db it speaks
// SMTP properly: it waits for each reply, ends lines with CRLF and puts a
// blank line between the header and the body, which Postfix 3.9's
// defaults require and the backend's procmail recipes (^Subject:, body on
// stdin) read the same.
type CommandSender struct {
	// From is the envelope sender (the original's WODSENDER).
	From string
	// HELO is the name given in HELO (the original's WODAPIDBFQDN).
	HELO string
	// Timeout bounds connecting and each exchange (default 30 s).
	Timeout time.Duration
}

// CommandData is the DATA of a command mail.
func CommandData(subject, body string) []byte {
	return []byte("Subject: " + subject + "\r\n\r\n" + body + "\r\n")
}

// SendCommand delivers one command mail to the location's backend.
func (c *CommandSender) SendCommand(ctx context.Context, l *wod.Location, subject, body string) error {
	if strings.ContainsAny(subject+body+c.From+l.BackendEmail, "\r\n") {
		return permanent(fmt.Errorf("command mail %q: a line break in a header, the body or an address", subject))
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	addr := l.BackendAddr()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("command mail to %s: %w", addr, err)
	}
	defer conn.Close()
	// The whole exchange is bounded by the deadline, and ends with ctx.
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	host, _, _ := net.SplitHostPort(addr)
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("command mail to %s: %w", addr, err)
	}
	defer cl.Close()
	helo := c.HELO
	if helo == "" {
		helo = "localhost"
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"HELO", func() error { return cl.Hello(helo) }},
		{"MAIL FROM", func() error { return cl.Mail(c.From) }},
		{"RCPT TO", func() error { return cl.Rcpt(l.BackendEmail) }},
		{"DATA", func() error {
			w, err := cl.Data()
			if err != nil {
				return err
			}
			if _, err := w.Write(CommandData(subject, body)); err != nil {
				return err
			}
			return w.Close()
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("command mail to %s: %s: %w", addr, s.what, err)
		}
	}
	// Delivered at the end of DATA: a failed QUIT loses nothing.
	_ = cl.Quit()
	return nil
}
