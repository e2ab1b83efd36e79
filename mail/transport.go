package mail

import (
	"context"
	"errors"
)

// Message is a rendered mail ready to go.
type Message struct {
	From    string // "Name <address>" or a bare address
	To      string // one address, or several separated by commas
	Subject string
	Text    string
	HTML    string // empty: a text-only message
	// MessageID is the Message-ID without angle brackets; empty: one is
	// generated.
	MessageID string
}

// Transport delivers messages. An error that IsPermanent will fail again
// however often it is retried; any other error is worth retrying later.
type Transport interface {
	Send(ctx context.Context, m *Message) error
}

// PermanentError marks a failure that retrying cannot fix: a 5xx reply from
// the server, an invalid address, refused authentication.
type PermanentError struct{ Err error }

// Error returns the cause's message.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err (or an error it wraps) is a
// *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

func permanent(err error) error { return &PermanentError{Err: err} }
