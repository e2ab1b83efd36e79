package engine

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/secret"
)

// OutboxStore is what the dispatcher needs of the store.
type OutboxStore interface {
	ClaimMails(ctx context.Context, lease time.Duration, limit int) ([]*wod.Mail, error)
	FinishMail(ctx context.Context, id int64, state wod.MailState, lastError string, retryAt *time.Time) error
	NextMailAt(ctx context.Context) (time.Time, bool, error)
	FindRegistration(ctx context.Context, id int64) (*wod.Registration, error)
}

// Dispatcher sends the outbox. Mails are committed with the step that
// caused them, so none is lost; each is sent until the transport takes it,
// with backoff, and a mail the transport refuses for good is marked failed
// for the operators to see. A dispatcher that dies mid-send leaves the mail
// leased; another sends it once the lease ends (at least once: SMTP offers
// nothing better).
type Dispatcher struct {
	Store     OutboxStore
	Transport mail.Transport
	Keys      *secret.Keys
	Clock     wod.Clock
	Logger    *slog.Logger
	From      string
	// MaxAttempts before a mail is marked failed.
	MaxAttempts int
	// Wake, when set, is waited on besides the timer (the engine's notify).
	Wake func() <-chan struct{}
	// SendTimeout bounds one delivery to the transport (default 20s).
	SendTimeout time.Duration
	// Observer, when set, hears the outcome of every delivery attempt.
	Observer Observer
}

// DefaultSendTimeout bounds a delivery when the dispatcher is given none.
const DefaultSendTimeout = 20 * time.Second

func (d *Dispatcher) sendTimeout() time.Duration {
	if d.SendTimeout > 0 {
		return d.SendTimeout
	}
	return DefaultSendTimeout
}

// lease outlasts a send so that a mail is never sent by two dispatchers at
// once, yet one that died (a crash mid-send) is replaced soon after.
func (d *Dispatcher) lease() time.Duration { return d.sendTimeout() + 5*time.Second }

// Run sends due mails until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		alarm := setAlarm(d.Clock, d.Wake)
		n, err := d.SendDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.ErrorContext(ctx, "outbox", "error", err)
		}
		if n > 0 {
			continue
		}
		var due time.Time
		if next, ok, err := d.Store.NextMailAt(ctx); err == nil && ok {
			due = next
		}
		if alarm.Wait(ctx, due) != nil {
			return nil
		}
	}
}

// SendDue sends every due mail and returns how many it handled.
func (d *Dispatcher) SendDue(ctx context.Context) (int, error) {
	total := 0
	for {
		ms, err := d.Store.ClaimMails(ctx, d.lease(), 20)
		if err != nil {
			return total, err
		}
		for _, m := range ms {
			d.send(ctx, m)
		}
		total += len(ms)
		if len(ms) < 20 {
			return total, nil
		}
	}
}

func (d *Dispatcher) send(ctx context.Context, m *wod.Mail) {
	// One Message-ID per outbox entry: should a crash between the relay's
	// acceptance and our bookkeeping send a mail again, mail clients see
	// the same message and show it once.
	msg := &mail.Message{From: d.From, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		MessageID: fmt.Sprintf("wod.mail.%d@%s", m.ID, domainOf(d.From))}
	if strings.Contains(m.Text, PasswordPlaceholder) || strings.Contains(m.HTML, PasswordPlaceholder) {
		pw, live, err := d.password(ctx, m)
		if err != nil {
			d.finish(ctx, m, err)
			return
		}
		if !live {
			// The session is over: its credentials are void and the mail moot.
			d.finishAs(ctx, m, wod.MailFailed, "not sent: the registration ended before its credentials went out", nil)
			return
		}
		msg.Text = strings.ReplaceAll(msg.Text, PasswordPlaceholder, pw)
		msg.HTML = strings.ReplaceAll(msg.HTML, PasswordPlaceholder, html.EscapeString(pw))
	}
	sctx, cancel := context.WithTimeout(ctx, d.sendTimeout())
	defer cancel()
	d.finish(ctx, m, d.Transport.Send(sctx, msg))
}

// password decrypts the student password of the mail's registration, and
// says whether the registration still runs.
func (d *Dispatcher) password(ctx context.Context, m *wod.Mail) (string, bool, error) {
	if m.RegistrationID == nil {
		return "", false, nil
	}
	r, err := d.Store.FindRegistration(ctx, *m.RegistrationID)
	if err != nil {
		return "", false, err
	}
	return StudentPassword(d.Keys, r)
}

func (d *Dispatcher) finish(ctx context.Context, m *wod.Mail, err error) {
	switch {
	case err == nil:
		d.finishAs(ctx, m, wod.MailSent, "", nil)
	case errors.Is(err, mail.ErrKept):
		d.finishAs(ctx, m, wod.MailKept, "", nil)
	case mail.IsPermanent(err) || m.Attempts >= d.maxAttempts():
		d.Logger.WarnContext(ctx, "mail failed for good", "mail", m.ID, "kind", m.Kind, "error", err)
		d.finishAs(ctx, m, wod.MailFailed, err.Error(), nil)
	default:
		at := d.Clock.Now().Add(mailBackoff(m.Attempts))
		d.Logger.InfoContext(ctx, "mail not sent, will retry", "mail", m.ID, "kind", m.Kind, "attempt", m.Attempts,
			"retry_at", at, "error", err)
		d.finishAs(ctx, m, wod.MailQueued, err.Error(), &at)
	}
}

func (d *Dispatcher) finishAs(ctx context.Context, m *wod.Mail, state wod.MailState, msg string, retryAt *time.Time) {
	observer(d.Observer).MailFinished(m.Kind, state)
	if err := d.Store.FinishMail(ctx, m.ID, state, msg, retryAt); err != nil {
		d.Logger.ErrorContext(ctx, "record mail outcome", "mail", m.ID, "error", err)
	}
}

func (d *Dispatcher) maxAttempts() int {
	if d.MaxAttempts > 0 {
		return d.MaxAttempts
	}
	return 10
}

func domainOf(addr string) string {
	if a, err := netmail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if at := strings.LastIndexByte(addr, '@'); at >= 0 && at < len(addr)-1 {
		return addr[at+1:]
	}
	return "localhost"
}

// mailBackoff waits 15 s, 30 s, 1 min, … up to 30 minutes between attempts:
// an SMTP relay that is down for an hour loses nothing.
func mailBackoff(attempt int) time.Duration {
	d := 15 * time.Second
	for i := 1; i < attempt && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}
