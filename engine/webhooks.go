package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/webhook"
)

// WebhookStore is what the webhook dispatcher needs of the store.
type WebhookStore interface {
	ClaimWebhookDeliveries(ctx context.Context, lease time.Duration, limit int) ([]*wod.WebhookAttempt, error)
	FinishWebhookDelivery(ctx context.Context, o wod.WebhookOutcome) (paused bool, err error)
	NextWebhookDeliveryAt(ctx context.Context) (time.Time, bool, error)
	ActiveWebhooks(ctx context.Context) (bool, error)
}

// Alerter composes an operator alert (Engine.ComposeAlert); nil when no
// operator has an address.
type Alerter interface {
	ComposeAlert(ctx context.Context, workshop, text string) (*wod.Mail, error)
}

// WebhookDispatcher delivers the webhook messages the store queued with
// the events that raised them. Each delivery is leased, sent, and its
// outcome recorded fenced by its attempt; a dispatcher that dies mid-send
// leaves the delivery to another once the lease ends (at least once: the
// receiver tells a repeat by its webhook-id). Failures are retried on
// WebhookBackoff's schedule; an endpoint failing every attempt for long
// enough is paused, with an alert to the operators.
type WebhookDispatcher struct {
	Store  WebhookStore
	Client *webhook.Client
	Keys   *secret.Keys
	Clock  wod.Clock
	Logger *slog.Logger
	// Alerts composes the alert of a pause; nil: the pause goes unmailed.
	Alerts Alerter
	// Wake, when set, is waited on besides the timer (the engine's notify).
	Wake func() <-chan struct{}
	// Timeout bounds one attempt (DefaultWebhookTimeout when zero); the
	// client's own timeout should not be shorter.
	Timeout time.Duration
	// MaxAttempts before a delivery fails for good (len(WebhookSchedule)+1
	// when zero).
	MaxAttempts int
	// Backoff is the wait after a failed attempt (WebhookBackoff when nil).
	Backoff func(attempt int) time.Duration
	// An endpoint is paused when PauseFailures attempts in a row failed
	// over PauseAfter or more (DefaultPauseFailures, DefaultPauseAfter when
	// zero; a negative PauseFailures never pauses).
	PauseFailures int
	PauseAfter    time.Duration
}

// Defaults of the webhook dispatcher.
const (
	DefaultWebhookTimeout = 15 * time.Second
	DefaultPauseFailures  = 5
	DefaultPauseAfter     = 24 * time.Hour
)

// WebhookSchedule is the wait after each failed attempt, the Standard
// Webhooks reference schedule: a receiver down for a day loses nothing.
var WebhookSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// WebhookBackoff is the wait after failed attempt n (from 1).
func WebhookBackoff(attempt int) time.Duration {
	return WebhookSchedule[min(max(attempt, 1), len(WebhookSchedule))-1]
}

func (d *WebhookDispatcher) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultWebhookTimeout
}

// lease outlasts an attempt, so that no delivery is sent by two
// dispatchers at once, yet one whose dispatcher died goes out soon after.
func (d *WebhookDispatcher) lease() time.Duration { return d.timeout() + 5*time.Second }

func (d *WebhookDispatcher) maxAttempts() int {
	if d.MaxAttempts > 0 {
		return d.MaxAttempts
	}
	return len(WebhookSchedule) + 1
}

func (d *WebhookDispatcher) backoff(attempt int) time.Duration {
	if d.Backoff != nil {
		return d.Backoff(attempt)
	}
	return WebhookBackoff(attempt)
}

func (d *WebhookDispatcher) pausePolicy() (int, time.Duration) {
	n, after := d.PauseFailures, d.PauseAfter
	if n == 0 {
		n = DefaultPauseFailures
	}
	if n < 0 {
		n = 0
	}
	if after == 0 {
		after = DefaultPauseAfter
	}
	return n, max(after, 0)
}

// Run delivers due messages until ctx ends.
func (d *WebhookDispatcher) Run(ctx context.Context) error {
	// Most sites have no webhook: the dispatcher then asks only whether one
	// came, once a second, instead of looking for deliveries at every step
	// of every participant (a claim's transaction and a look ahead). An
	// endpoint added or resumed is seen within the second.
	var active bool
	var asked time.Time
	for {
		alarm := setAlarm(d.Clock, d.Wake)
		if now := time.Now(); now.Sub(asked) >= maxSleep {
			var err error
			if active, err = d.Store.ActiveWebhooks(ctx); err != nil {
				active = true // look, as if there were one
			}
			asked = now
		}
		if !active {
			if alarm.Wait(ctx, time.Time{}) != nil {
				return nil
			}
			continue
		}
		n, err := d.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.ErrorContext(ctx, "webhooks", "error", err)
		}
		if n > 0 {
			continue
		}
		var due time.Time
		if next, ok, err := d.Store.NextWebhookDeliveryAt(ctx); err == nil && ok {
			due = next
		}
		if alarm.Wait(ctx, due) != nil {
			return nil
		}
	}
}

// DeliverDue sends every due delivery and returns how many it handled.
func (d *WebhookDispatcher) DeliverDue(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		as, err := d.Store.ClaimWebhookDeliveries(ctx, d.lease(), 20)
		if err != nil {
			return total, err
		}
		for _, a := range as {
			d.deliver(ctx, a)
		}
		total += len(as)
		if len(as) < 20 {
			break
		}
	}
	return total, ctx.Err()
}

func (d *WebhookDispatcher) deliver(ctx context.Context, a *wod.WebhookAttempt) {
	del := a.Delivery
	o := wod.WebhookOutcome{DeliveryID: del.ID, Attempt: del.Attempts}
	secretText, err := d.Keys.Decrypt(a.SecretEnc)
	if err != nil {
		// The server's key changed since the secret was sealed: only a
		// rotation (a new secret) mends it.
		d.failed(ctx, a, &o, "the endpoint's secret cannot be unsealed (rotate it): "+err.Error())
		return
	}
	sctx, cancel := context.WithTimeout(ctx, d.timeout())
	ans, err := d.Client.Send(sctx, a.URL, secretText, del.MessageID, d.Clock.Now(), []byte(del.Payload))
	cancel()
	if ctx.Err() != nil {
		// Stopping: the lease runs out and another attempt sends it.
		return
	}
	o.Status, o.Response = ans.Status, ans.Body
	switch {
	case err != nil:
		d.failed(ctx, a, &o, err.Error())
	case !ans.OK():
		d.failed(ctx, a, &o, fmt.Sprintf("the endpoint answered %d", ans.Status))
	default:
		o.State = wod.DeliveryDelivered
		d.finish(ctx, a, o)
	}
}

// failed records a failed attempt: retried later, or failed for good; and
// composes the pause's alert when this failure may pause the endpoint.
func (d *WebhookDispatcher) failed(ctx context.Context, a *wod.WebhookAttempt, o *wod.WebhookOutcome, msg string) {
	del := a.Delivery
	o.Error = msg
	if del.Attempts >= d.maxAttempts() {
		o.State = wod.DeliveryFailed
		d.Logger.WarnContext(ctx, "webhook delivery failed for good", "delivery", del.ID, "endpoint", del.EndpointID,
			"type", del.Type, "attempts", del.Attempts, "error", msg)
	} else {
		at := d.Clock.Now().Add(d.backoff(del.Attempts))
		o.State, o.RetryAt = wod.DeliveryQueued, &at
		d.Logger.InfoContext(ctx, "webhook not delivered, will retry", "delivery", del.ID, "endpoint", del.EndpointID,
			"type", del.Type, "attempt", del.Attempts, "retry_at", at, "error", msg)
	}
	o.PauseFailures, o.PauseAfter = d.pausePolicy()
	since := d.Clock.Now()
	if a.FailingSince != nil {
		since = *a.FailingSince
	}
	if o.PauseFailures > 0 && a.ConsecutiveFailures+1 >= o.PauseFailures && !d.Clock.Now().Before(since.Add(o.PauseAfter)) &&
		d.Alerts != nil {
		text := fmt.Sprintf("Webhook endpoint %d (%s) is paused: its last %d attempts failed, since %s (the last one: %s).\n"+
			"Its deliveries are kept. Once the receiver is mended, resume the endpoint on the admin webhooks page "+
			"or with POST /api/v1/webhooks/%d/resume.",
			del.EndpointID, webhook.Display(a.URL), a.ConsecutiveFailures+1, since.UTC().Format(time.RFC3339), msg, del.EndpointID)
		alert, err := d.Alerts.ComposeAlert(ctx, "", text)
		if err != nil {
			d.Logger.ErrorContext(ctx, "compose webhook pause alert", "endpoint", del.EndpointID, "error", err)
		}
		o.Alert = alert
	}
	d.finish(ctx, a, *o)
}

func (d *WebhookDispatcher) finish(ctx context.Context, a *wod.WebhookAttempt, o wod.WebhookOutcome) {
	paused, err := d.Store.FinishWebhookDelivery(ctx, o)
	if err != nil {
		d.Logger.ErrorContext(ctx, "record webhook outcome", "delivery", o.DeliveryID, "error", err)
		return
	}
	if paused {
		d.Logger.WarnContext(ctx, "webhook endpoint paused after repeated failures", "endpoint", a.Delivery.EndpointID,
			"url", webhook.Display(a.URL))
	}
}
