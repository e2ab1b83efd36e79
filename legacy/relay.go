package legacy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wod-dev/wod/mail"
)

// Relay passes the api-db's participant mails (welcome, credentials,
// reminder, apology: what it sends to its backend's SMTP port when it has
// no SendGrid key) on to the site's SMTP relay, as the original's Postfix
// did. A mail is one JSON file in Dir, written durably before the intake
// answers 250, and removed once the relay took it: a crash in between
// sends it again (same Message-ID), never loses it. Mails the relay
// refuses for good, or that keep failing, move to Dir/failed.
type Relay struct {
	Dir       string
	Transport mail.Transport
	// MaxAttempts before a mail is given up (default 20: about a day with
	// the default backoff).
	MaxAttempts int
	// Retry is the first pause after a failure, doubling up to an hour
	// (default 30 s).
	Retry  time.Duration
	Logger *slog.Logger

	mu     sync.Mutex
	lastID int64
	wake   chan struct{}
}

// Relayed is a participant mail on its way.
type Relayed struct {
	ID         int64        `json:"id"`
	Message    mail.Message `json:"message"`
	ReceivedAt time.Time    `json:"received_at"`
	Remote     string       `json:"remote,omitempty"`
	Attempts   int          `json:"attempts"`
	NotBefore  time.Time    `json:"not_before,omitzero"`
	LastError  string       `json:"last_error,omitempty"`
}

// Open creates the directories.
func (r *Relay) Open() error {
	if err := os.MkdirAll(filepath.Join(r.Dir, failedDir), 0o700); err != nil {
		return fmt.Errorf("legacy relay: %w", err)
	}
	return nil
}

// Add keeps a mail, durably, and wakes the sender.
func (r *Relay) Add(m *Relayed) error {
	r.mu.Lock()
	id := max(time.Now().UnixNano(), r.lastID+1)
	r.lastID = id
	r.mu.Unlock()
	m.ID = id
	if err := r.save(m); err != nil {
		return err
	}
	r.notify()
	return nil
}

func (r *Relay) path(id int64) string { return filepath.Join(r.Dir, fmt.Sprintf("%020d.json", id)) }

func (r *Relay) save(m *Relayed) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeDurably(r.path(m.ID), b); err != nil {
		return fmt.Errorf("legacy relay: %w", err)
	}
	return nil
}

func (r *Relay) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wake != nil {
		close(r.wake)
		r.wake = nil
	}
}

func (r *Relay) woken() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wake == nil {
		r.wake = make(chan struct{})
	}
	return r.wake
}

// Pending lists the mails not sent yet, oldest first. An unreadable file
// is set aside with a .bad suffix and reported.
func (r *Relay) Pending() ([]*Relayed, []error) {
	return readQueue(r.Dir, "legacy relay", func(m *Relayed) int64 { return m.ID })
}

// Failed lists the mails given up.
func (r *Relay) Failed() ([]string, error) {
	des, err := os.ReadDir(filepath.Join(r.Dir, failedDir))
	if err != nil {
		return nil, fmt.Errorf("legacy relay: %w", err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out, nil
}

// Run sends the pending mails until ctx ends: those kept before a restart
// first, then each as it arrives, retrying with backoff.
func (r *Relay) Run(ctx context.Context) {
	for ctx.Err() == nil {
		wake := r.woken()
		next := r.sendDue(ctx)
		wait := time.Minute
		if !next.IsZero() {
			wait = max(time.Until(next), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue sends what is due and returns when the next retry is (zero:
// none waits).
func (r *Relay) sendDue(ctx context.Context) time.Time {
	pending, errs := r.Pending()
	for _, err := range errs {
		r.logger().ErrorContext(ctx, "legacy participant mail", "error", err)
	}
	var next time.Time
	for _, m := range pending {
		if ctx.Err() != nil {
			return time.Time{}
		}
		if time.Now().Before(m.NotBefore) {
			if next.IsZero() || m.NotBefore.Before(next) {
				next = m.NotBefore
			}
			continue
		}
		if at := r.send(ctx, m); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// send delivers one mail; it returns when to try again, or zero.
func (r *Relay) send(ctx context.Context, m *Relayed) time.Time {
	log := r.logger().With("to", m.Message.To, "subject", m.Message.Subject, "message_id", m.Message.MessageID)
	m.Attempts++
	err := r.Transport.Send(ctx, &m.Message)
	if err == nil {
		if err := os.Remove(r.path(m.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.ErrorContext(ctx, "legacy participant mail sent but still in the outbox: it will go again", "error", err)
			return time.Now().Add(r.backoff(1))
		}
		log.InfoContext(ctx, "legacy participant mail relayed", "attempts", m.Attempts)
		return time.Time{}
	}
	if ctx.Err() != nil {
		return time.Time{} // stopping: the attempt does not count
	}
	m.LastError = err.Error()
	maxAttempts := cmp.Or(r.MaxAttempts, 20)
	if mail.IsPermanent(err) || m.Attempts >= maxAttempts {
		if err := r.save(m); err != nil {
			log.ErrorContext(ctx, "legacy participant mail", "error", err)
			return time.Now().Add(r.backoff(1))
		}
		to := filepath.Join(r.Dir, failedDir, filepath.Base(r.path(m.ID)))
		if err := os.Rename(r.path(m.ID), to); err != nil {
			log.ErrorContext(ctx, "legacy participant mail", "error", err)
			return time.Now().Add(r.backoff(1))
		}
		log.ErrorContext(ctx, "legacy participant mail given up; it is kept in the relay's failed directory",
			"attempts", m.Attempts, "error", err, "file", to)
		return time.Time{}
	}
	m.NotBefore = time.Now().Add(r.backoff(m.Attempts))
	if err := r.save(m); err != nil {
		log.ErrorContext(ctx, "legacy participant mail", "error", err)
	}
	log.WarnContext(ctx, "legacy participant mail not relayed yet; it will be sent again", "attempts", m.Attempts,
		"retry_at", m.NotBefore, "error", err)
	return m.NotBefore
}

func (r *Relay) backoff(n int) time.Duration {
	d := cmp.Or(r.Retry, 30*time.Second)
	for ; n > 1 && d < time.Hour; n-- {
		d *= 2
	}
	return min(d, time.Hour)
}

func (r *Relay) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
