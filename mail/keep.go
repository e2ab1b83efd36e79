package mail

import (
	"context"
	"errors"
)

// ErrKept is what Keep.Send returns: the message was not sent, on purpose,
// and stays in the outbox for operators to read (in the admin UI or the
// API). It is neither a success nor a failure to retry; the dispatcher
// records such mails as wod.MailKept.
var ErrKept = errors.New("mail not sent: kept in the outbox (outbox-only transport)")

// Keep is the outbox-only transport, for installations without an SMTP
// relay (trials, air-gapped labs, development): nothing leaves the machine,
// and operators hand credentials over by other means. Its Send always
// returns ErrKept.
type Keep struct{}

// Send returns ErrKept.
func (Keep) Send(context.Context, *Message) error { return ErrKept }
