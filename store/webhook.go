package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wod-dev/wod"
)

// queueWebhook queues a message of type typ carrying data to every endpoint
// subscribed to typ, in the caller's transaction: the delivery exists if and
// only if what it tells was committed. All the endpoints get the same
// message id, as the Standard Webhooks specification has it.
func queueWebhook(tx *Tx, typ wod.WebhookEventType, data func() (any, error)) error {
	endpoints, err := queryAll(tx, scanOne[int64], `SELECT endpoint_id FROM webhook_subscriptions WHERE event_type = $1
		ORDER BY endpoint_id`, typ)
	if err != nil || len(endpoints) == 0 {
		return err
	}
	d, err := data()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", typ, err)
	}
	body, err := json.Marshal(wod.WebhookMessage{Type: typ, Timestamp: tx.now, Data: raw})
	if err != nil {
		return fmt.Errorf("webhook %s: %w", typ, err)
	}
	msgID := "msg_" + rand.Text()
	for _, id := range endpoints {
		if _, err := tx.exec(`INSERT INTO webhook_deliveries (endpoint_id, event_type, message_id, payload, state,
			next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'queued', $5, $5)`,
			id, typ, msgID, string(body), tx.now); err != nil {
			return err
		}
	}
	return nil
}

// queueRegistrationWebhook queues typ about a registration, as it stands in
// tx. A rehearsal's robot is no participant: its steps raise nothing (its
// verdict raises rehearsal.failed).
func queueRegistrationWebhook(tx *Tx, typ wod.WebhookEventType, id int64) error {
	return skipped(queueWebhook(tx, typ, func() (any, error) {
		r, err := findRegistration(tx, id)
		if err != nil {
			return nil, err
		}
		if r.RehearsalID != nil {
			return nil, errSkipWebhook
		}
		return wod.WebhookRegistrationOf(r), nil
	}))
}

// subscribersSQL counts the endpoints subscribed to the webhook type given
// as parameter $n. A statement that does a step's own work reads it along
// (see queueRegistrationWebhookTo), so that a step nobody subscribed to
// spends no round trip on webhooks.
func subscribersSQL(n int) string {
	return fmt.Sprintf(`(SELECT COUNT(*) FROM webhook_subscriptions WHERE event_type = $%d)`, n)
}

// queueRegistrationWebhookTo is queueRegistrationWebhook for a step that
// read the type's subscribers along with its own work (subscribersSQL):
// none, nothing to do; -1, not read.
func queueRegistrationWebhookTo(tx *Tx, typ wod.WebhookEventType, id int64, subscribers int) error {
	if subscribers == 0 {
		return nil
	}
	return queueRegistrationWebhook(tx, typ, id)
}

// errSkipWebhook tells queueWebhook's caller that nothing was to be sent.
var errSkipWebhook = errors.New("no webhook for this one")

func skipped(err error) error {
	if errors.Is(err, errSkipWebhook) {
		return nil
	}
	return err
}

// queueRehearsalWebhook queues rehearsal.failed for a rehearsal that
// failed, as it stands in tx.
func queueRehearsalWebhook(tx *Tx, id int64) error {
	return queueWebhook(tx, wod.WebhookRehearsalFailed, func() (any, error) {
		r, err := scanRehearsal(tx.queryRow(`SELECT `+rehearsalColumns+` FROM `+rehearsalFrom+` WHERE h.id = $1`, id))
		if err != nil {
			return nil, err
		}
		return wod.WebhookRehearsalOf(r), nil
	})
}

const webhookColumns = `id, url, description, secret_enc, paused_at, pause_reason, consecutive_failures,
	failing_since, last_success_at, created_at, updated_at`

func scanWebhook(row scanner) (*wod.WebhookEndpoint, error) {
	var e wod.WebhookEndpoint
	var paused, failing, success sql.NullTime
	if err := row.Scan(&e.ID, &e.URL, &e.Description, &e.SecretEnc, &paused, &e.PauseReason, &e.ConsecutiveFailures,
		&failing, &success, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, err
	}
	e.PausedAt, e.FailingSince, e.LastSuccessAt = timePtr(paused), timePtr(failing), timePtr(success)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

// withEvents fills the endpoints' subscriptions, in the order of
// wod.WebhookTriggers.
func withEvents(tx *Tx, es ...*wod.WebhookEndpoint) error {
	byID := map[int64]*wod.WebhookEndpoint{}
	for _, e := range es {
		e.Events = []wod.WebhookEventType{}
		byID[e.ID] = e
	}
	err := queryEach(tx, func(row scanner) error {
		var id int64
		var t wod.WebhookEventType
		if err := row.Scan(&id, &t); err != nil {
			return err
		}
		if e := byID[id]; e != nil {
			e.Events = append(e.Events, t)
		}
		return nil
	}, `SELECT endpoint_id, event_type FROM webhook_subscriptions`)
	if err != nil {
		return err
	}
	order := func(t wod.WebhookEventType) int {
		return slices.IndexFunc(wod.WebhookTriggers, func(w wod.WebhookTrigger) bool { return w.Type == t })
	}
	for _, e := range es {
		slices.SortFunc(e.Events, func(a, b wod.WebhookEventType) int { return order(a) - order(b) })
	}
	return nil
}

func subscribe(tx *Tx, id int64, events []wod.WebhookEventType) error {
	if _, err := tx.exec(`DELETE FROM webhook_subscriptions WHERE endpoint_id = $1`, id); err != nil {
		return err
	}
	seen := map[wod.WebhookEventType]bool{}
	for _, t := range events {
		if seen[t] {
			continue
		}
		seen[t] = true
		if _, err := tx.exec(`INSERT INTO webhook_subscriptions (event_type, endpoint_id) VALUES ($1, $2)`, t, id); err != nil {
			return err
		}
	}
	return nil
}

func findWebhook(tx *Tx, id int64) (*wod.WebhookEndpoint, error) {
	e, err := scanWebhook(tx.queryRow(`SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "webhook %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	return e, withEvents(tx, e)
}

// CreateWebhook adds an endpoint and its subscriptions.
func (db *DB) CreateWebhook(ctx context.Context, e *wod.WebhookEndpoint) error {
	if err := e.Validate(); err != nil {
		return err
	}
	err := db.transact(ctx, func(tx *Tx) error {
		e.CreatedAt, e.UpdatedAt = tx.now, tx.now
		if err := tx.queryRow(`INSERT INTO webhook_endpoints (url, description, secret_enc, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, e.URL, e.Description, e.SecretEnc, tx.now).Scan(&e.ID); err != nil {
			return err
		}
		return subscribe(tx, e.ID, e.Events)
	})
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

// FindWebhook returns one endpoint.
func (db *DB) FindWebhook(ctx context.Context, id int64) (e *wod.WebhookEndpoint, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		e, err = findWebhook(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find webhook %d: %w", id, err)
	}
	return e, nil
}

// FindWebhooks lists the endpoints, oldest first.
func (db *DB) FindWebhooks(ctx context.Context) (es []*wod.WebhookEndpoint, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		if es, err = queryAll(tx, scanWebhook, `SELECT `+webhookColumns+` FROM webhook_endpoints ORDER BY id`); err != nil {
			return err
		}
		return withEvents(tx, es...)
	})
	if err != nil {
		return nil, fmt.Errorf("find webhooks: %w", err)
	}
	return es, nil
}

// UpdateWebhook changes an endpoint's URL, description, events or secret.
func (db *DB) UpdateWebhook(ctx context.Context, id int64, upd wod.WebhookUpdate) (e *wod.WebhookEndpoint, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		if e, err = findWebhook(tx, id); err != nil {
			return err
		}
		if upd.URL != nil {
			e.URL = *upd.URL
		}
		if upd.Description != nil {
			e.Description = *upd.Description
		}
		if upd.Events != nil {
			e.Events = upd.Events
		}
		if upd.SecretEnc != nil {
			e.SecretEnc = upd.SecretEnc
		}
		if err := e.Validate(); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE webhook_endpoints SET url = $1, description = $2, secret_enc = $3, updated_at = $4
			WHERE id = $5`, e.URL, e.Description, e.SecretEnc, tx.now, id); err != nil {
			return err
		}
		if upd.Events != nil {
			if err := subscribe(tx, id, upd.Events); err != nil {
				return err
			}
		}
		e, err = findWebhook(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update webhook %d: %w", id, err)
	}
	return e, nil
}

// DeleteWebhook removes an endpoint with its deliveries.
func (db *DB) DeleteWebhook(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		// Explicitly, not only by the foreign keys' cascade: the rows go
		// whatever the connection's foreign-key setting.
		if _, err := tx.exec(`DELETE FROM webhook_deliveries WHERE endpoint_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM webhook_subscriptions WHERE endpoint_id = $1`, id); err != nil {
			return err
		}
		res, err := tx.exec(`DELETE FROM webhook_endpoints WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return wod.Errorf(wod.ENOTFOUND, "webhook %d not found", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	return nil
}

// PauseWebhook holds an endpoint's deliveries, and queues alert with it.
func (db *DB) PauseWebhook(ctx context.Context, id int64, reason string, alert *wod.Mail) (e *wod.WebhookEndpoint, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		if err := pauseWebhook(tx, id, reason, alert); err != nil {
			return err
		}
		e, err = findWebhook(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pause webhook %d: %w", id, err)
	}
	return e, nil
}

func pauseWebhook(tx *Tx, id int64, reason string, alert *wod.Mail) error {
	res, err := tx.exec(`UPDATE webhook_endpoints SET paused_at = $1, pause_reason = $2, updated_at = $1
		WHERE id = $3 AND paused_at IS NULL`, tx.now, reason, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if _, err := findWebhook(tx, id); err != nil {
			return err
		}
		return wod.Errorf(wod.ECONFLICT, "webhook %d is paused already", id)
	}
	if alert != nil {
		return insertMail(tx, alert)
	}
	return nil
}

// ResumeWebhook ends a pause: the held deliveries are due now (attempts
// counted afresh), and the failure streak is forgotten.
func (db *DB) ResumeWebhook(ctx context.Context, id int64) (e *wod.WebhookEndpoint, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		if _, err := findWebhook(tx, id); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE webhook_endpoints SET paused_at = NULL, pause_reason = '', consecutive_failures = 0,
			failing_since = NULL, updated_at = $1 WHERE id = $2`, tx.now, id); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = 0
			WHERE endpoint_id = $2 AND state = 'queued'`, tx.now, id); err != nil {
			return err
		}
		e, err = findWebhook(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resume webhook %d: %w", id, err)
	}
	return e, nil
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_type, d.message_id, d.payload, d.state, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_response, d.last_error, d.delivered_at, d.created_at`

func scanDelivery(row scanner) (*wod.WebhookDelivery, error) {
	var d wod.WebhookDelivery
	var last, delivered sql.NullTime
	if err := row.Scan(&d.ID, &d.EndpointID, &d.Type, &d.MessageID, &d.Payload, &d.State, &d.Attempts,
		&d.NextAttemptAt, &last, &d.LastStatus, &d.LastResponse, &d.LastError, &delivered, &d.CreatedAt); err != nil {
		return nil, err
	}
	d.LastAttemptAt, d.DeliveredAt = timePtr(last), timePtr(delivered)
	d.NextAttemptAt, d.CreatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC()
	return &d, nil
}

// FindWebhookDeliveries lists deliveries, newest first.
func (db *DB) FindWebhookDeliveries(ctx context.Context, f wod.WebhookDeliveryFilter) (ds []*wod.WebhookDelivery, total int, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var w where
		if f.EndpointID != nil {
			w.add("d.endpoint_id = ?", *f.EndpointID)
		}
		if f.State != nil {
			w.add("d.state = ?", *f.State)
		}
		if total, err = count(tx, "webhook_deliveries d", &w); err != nil {
			return err
		}
		ds, err = queryAll(tx, scanDelivery, `SELECT `+deliveryColumns+` FROM webhook_deliveries d`+w.String()+
			` ORDER BY d.id DESC`+w.page(f.Page), w.args...)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("find webhook deliveries: %w", err)
	}
	return ds, total, nil
}

func findDelivery(tx *Tx, id int64) (*wod.WebhookDelivery, error) {
	d, err := scanDelivery(tx.queryRow(`SELECT `+deliveryColumns+` FROM webhook_deliveries d WHERE d.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "webhook delivery %d not found", id)
	}
	return d, err
}

// FindWebhookDelivery returns one delivery.
func (db *DB) FindWebhookDelivery(ctx context.Context, id int64) (d *wod.WebhookDelivery, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		d, err = findDelivery(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find webhook delivery %d: %w", id, err)
	}
	return d, nil
}

// RedeliverWebhook queues a delivery again, due now, attempts counted
// afresh: an operator's "send it again", after a fix on the receiver's
// side. The message keeps its id, so a receiver that had it already can
// tell.
func (db *DB) RedeliverWebhook(ctx context.Context, id int64) (d *wod.WebhookDelivery, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE webhook_deliveries SET state = 'queued', attempts = 0, next_attempt_at = $1,
			lease_until = NULL WHERE id = $2 AND state <> 'sending'`, tx.now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := findDelivery(tx, id); err != nil {
				return err
			}
			return wod.Errorf(wod.ECONFLICT, "webhook delivery %d is being sent; wait for its answer", id)
		}
		d, err = findDelivery(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("redeliver webhook delivery %d: %w", id, err)
	}
	return d, nil
}

// ActiveWebhooks says whether any webhook endpoint is not paused (each is
// subscribed to an event at least): without one, no delivery can be due.
func (db *DB) ActiveWebhooks(ctx context.Context) (active bool, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE paused_at IS NULL)`).Scan(&active)
	})
	if err != nil {
		return false, fmt.Errorf("active webhooks: %w", err)
	}
	return active, nil
}

// ClaimWebhookDeliveries leases up to limit due deliveries of endpoints
// that are not paused: queued ones whose time has come, and ones a
// dispatcher was sending when it died.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, lease time.Duration, limit int) (as []*wod.WebhookAttempt, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		lock := ""
		if tx.db.dialect == Postgres {
			lock = " FOR UPDATE OF d SKIP LOCKED"
		}
		ids, err := queryAll(tx, scanOne[int64], `SELECT d.id FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE e.paused_at IS NULL AND ((d.state = 'queued' AND d.next_attempt_at <= $1)
				OR (d.state = 'sending' AND d.lease_until < $1))
			ORDER BY d.next_attempt_at, d.id LIMIT $2`+lock, tx.now, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.exec(`UPDATE webhook_deliveries SET state = 'sending', attempts = attempts + 1,
				lease_until = $1, last_attempt_at = $2 WHERE id = $3`, tx.now.Add(lease), tx.now, id); err != nil {
				return err
			}
			var a wod.WebhookAttempt
			var failing sql.NullTime
			if a.Delivery, err = findDelivery(tx, id); err != nil {
				return err
			}
			if err := tx.queryRow(`SELECT url, secret_enc, consecutive_failures, failing_since FROM webhook_endpoints
				WHERE id = $1`, a.Delivery.EndpointID).Scan(&a.URL, &a.SecretEnc, &a.ConsecutiveFailures, &failing); err != nil {
				return err
			}
			a.FailingSince = timePtr(failing)
			as = append(as, &a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return as, nil
}

// FinishWebhookDelivery records an attempt's outcome, fenced by its
// attempt, and keeps the endpoint's failure streak: a success ends it; a
// failure that makes it long enough (o.PauseFailures attempts, begun
// o.PauseAfter ago) pauses the endpoint and queues o.Alert. It reports
// whether it paused the endpoint.
func (db *DB) FinishWebhookDelivery(ctx context.Context, o wod.WebhookOutcome) (paused bool, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		paused = false
		next := tx.now
		if o.RetryAt != nil {
			next = o.RetryAt.UTC()
		}
		var delivered sql.NullTime
		if o.State == wod.DeliveryDelivered {
			delivered = sql.NullTime{Time: tx.now, Valid: true}
		}
		res, err := tx.exec(`UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, lease_until = NULL,
			last_status = $3, last_response = $4, last_error = $5, delivered_at = $6
			WHERE id = $7 AND state = 'sending' AND attempts = $8`,
			o.State, next, o.Status, o.Response, o.Error, delivered, o.DeliveryID, o.Attempt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return wod.Errorf(wod.ECONFLICT, "webhook delivery %d attempt %d is no longer being sent: its lease was lost",
				o.DeliveryID, o.Attempt)
		}
		var endpoint int64
		if err := tx.queryRow(`SELECT endpoint_id FROM webhook_deliveries WHERE id = $1`, o.DeliveryID).Scan(&endpoint); err != nil {
			return err
		}
		if o.State == wod.DeliveryDelivered {
			_, err := tx.exec(`UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL,
				last_success_at = $1 WHERE id = $2`, tx.now, endpoint)
			return err
		}
		var failures int
		var since time.Time
		if err := tx.queryRow(`UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
			failing_since = COALESCE(failing_since, $1) WHERE id = $2 RETURNING consecutive_failures, failing_since`,
			tx.now, endpoint).Scan(&failures, &since); err != nil {
			return err
		}
		if o.PauseFailures > 0 && failures >= o.PauseFailures && !tx.now.Before(since.Add(o.PauseAfter)) {
			reason := fmt.Sprintf("paused after %d failed attempts in a row since %s", failures,
				since.UTC().Format(time.RFC3339))
			err := pauseWebhook(tx, endpoint, reason, o.Alert)
			if wod.ErrorCode(err) == wod.ECONFLICT {
				return nil // an operator or another dispatcher paused it first
			}
			paused = err == nil
			return err
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finish webhook delivery %d: %w", o.DeliveryID, err)
	}
	return paused, nil
}

// NextWebhookDeliveryAt returns when the next delivery of an endpoint that
// is not paused falls due, and false when none is waiting.
func (db *DB) NextWebhookDeliveryAt(ctx context.Context) (next time.Time, ok bool, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		next, ok, err = earliest(tx,
			dueQuery{sql: `SELECT d.next_attempt_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE e.paused_at IS NULL AND d.state = 'queued' ORDER BY d.next_attempt_at LIMIT 1`},
			dueQuery{sql: `SELECT d.lease_until FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE e.paused_at IS NULL AND d.state = 'sending' ORDER BY d.lease_until LIMIT 1`})
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next webhook delivery: %w", err)
	}
	return next, ok, nil
}
