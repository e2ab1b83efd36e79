package store

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// RecordEvent appends to the audit trail.
func (db *DB) RecordEvent(ctx context.Context, e *wod.Event) error {
	err := db.transact(ctx, func(tx *Tx) error { return recordEvent(tx, e) })
	if err != nil {
		return fmt.Errorf("record event %s: %w", e.Kind, err)
	}
	return nil
}

func recordEvent(tx *Tx, e *wod.Event) error {
	if e.At.IsZero() {
		e.At = tx.now
	}
	if err := tx.queryRow(`INSERT INTO events (at, actor, kind, subject, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		e.At.UTC(), e.Actor, e.Kind, e.Subject, e.Detail).Scan(&e.ID); err != nil {
		return err
	}
	if typ, ok := wod.WebhookOnAudit(e.Kind); ok {
		return queueWebhook(tx, typ, func() (any, error) { return e, nil })
	}
	return nil
}

// eventColumns are the columns scanEvent reads.
const eventColumns = `id, at, actor, kind, subject, detail`

func scanEvent(row scanner) (*wod.Event, error) {
	var e wod.Event
	if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Kind, &e.Subject, &e.Detail); err != nil {
		return nil, err
	}
	e.At = e.At.UTC()
	return &e, nil
}

// FindEvents lists events, newest first.
func (db *DB) FindEvents(ctx context.Context, f wod.EventFilter) (es []*wod.Event, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.Kind != nil {
			w.add("kind = ?", *f.Kind)
		}
		if f.Subject != nil {
			w.add("subject = ?", *f.Subject)
		}
		if total, err = count(tx, "events", &w); err != nil {
			return err
		}
		es, err = queryAll(tx, scanEvent, `SELECT `+eventColumns+` FROM events`+w.String()+
			` ORDER BY id DESC`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find events: %w", err)
	}
	return es, total, nil
}
