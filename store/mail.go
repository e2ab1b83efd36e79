package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wod-dev/wod"
)

// insertMail queues a mail; a second mail of the same kind and key for the
// same registration is silently dropped, so retried transitions never send
// twice (a reminder for a new end time has a new key: it goes).
func insertMail(tx *Tx, m *wod.Mail) error {
	if m.State == "" {
		m.State = wod.MailQueued
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = tx.now
	}
	m.CreatedAt = tx.now
	err := tx.queryRow(`INSERT INTO mails (registration_id, kind, mail_key, recipient, subject, text_body, html_body,
		state, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (registration_id, kind, mail_key) WHERE registration_id IS NOT NULL DO NOTHING RETURNING id`,
		nullInt64(m.RegistrationID), m.Kind, m.Key, m.To, m.Subject, m.Text, m.HTML, m.State, m.NextAttemptAt.UTC(),
		tx.now).Scan(&m.ID)
	if err == sql.ErrNoRows {
		return nil
	}
	return err
}

const mailColumns = `id, registration_id, kind, mail_key, recipient, subject, text_body, html_body, state, attempts,
	next_attempt_at, last_error, sent_at, created_at`

func scanMail(row scanner) (*wod.Mail, error) {
	var m wod.Mail
	var reg sql.NullInt64
	var sent sql.NullTime
	if err := row.Scan(&m.ID, &reg, &m.Kind, &m.Key, &m.To, &m.Subject, &m.Text, &m.HTML, &m.State, &m.Attempts,
		&m.NextAttemptAt, &m.LastError, &sent, &m.CreatedAt); err != nil {
		return nil, err
	}
	m.RegistrationID, m.SentAt = int64Ptr(reg), timePtr(sent)
	m.NextAttemptAt, m.CreatedAt = m.NextAttemptAt.UTC(), m.CreatedAt.UTC()
	return &m, nil
}

// FindMails lists the outbox, newest first.
func (db *DB) FindMails(ctx context.Context, f wod.MailFilter) (ms []*wod.Mail, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.ID != nil {
			w.add("id = ?", *f.ID)
		}
		if f.RegistrationID != nil {
			w.add("registration_id = ?", *f.RegistrationID)
		}
		if f.State != nil {
			w.add("state = ?", *f.State)
		}
		if f.Kind != nil {
			w.add("kind = ?", *f.Kind)
		}
		if total, err = count(tx, "mails", &w); err != nil {
			return err
		}
		ms, err = queryAll(tx, scanMail, `SELECT `+mailColumns+` FROM mails`+w.String()+` ORDER BY id DESC`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find mails: %w", err)
	}
	return ms, total, nil
}
