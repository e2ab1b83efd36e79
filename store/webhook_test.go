package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func newEndpoint(t *testing.T, db *store.DB, url string, events ...wod.WebhookEventType) *wod.WebhookEndpoint {
	t.Helper()
	e := &wod.WebhookEndpoint{URL: url, Events: events, SecretEnc: []byte("sealed")}
	if err := db.CreateWebhook(context.Background(), e); err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return e
}

func deliveries(t *testing.T, db *store.DB, endpoint int64) []*wod.WebhookDelivery {
	t.Helper()
	ds, n, err := db.FindWebhookDeliveries(context.Background(), wod.WebhookDeliveryFilter{EndpointID: &endpoint})
	if err != nil || n != len(ds) {
		t.Fatalf("deliveries of %d: %d %v", endpoint, n, err)
	}
	slices.Reverse(ds) // oldest first
	return ds
}

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		for _, bad := range []*wod.WebhookEndpoint{
			{URL: "ftp://example.com/hook", Events: []wod.WebhookEventType{wod.WebhookRegistrationReady}},
			{URL: "https://", Events: []wod.WebhookEventType{wod.WebhookRegistrationReady}},
			{URL: "example.com/hook", Events: []wod.WebhookEventType{wod.WebhookRegistrationReady}},
			{URL: "https://user:pw@example.com/hook", Events: []wod.WebhookEventType{wod.WebhookRegistrationReady}},
			{URL: "https://example.com/hook"},
			{URL: "https://example.com/hook", Events: []wod.WebhookEventType{"registration.teleported"}},
		} {
			if err := db.CreateWebhook(ctx, bad); wod.ErrorCode(err) != wod.EINVALID {
				t.Fatalf("%+v: %v, want invalid", bad, err)
			}
		}
		active := func(want bool) {
			t.Helper()
			if got, err := db.ActiveWebhooks(ctx); err != nil || got != want {
				t.Fatalf("active webhooks: %v %v, want %v", got, err, want)
			}
		}
		active(false)
		e := newEndpoint(t, db, "https://hooks.example.com/wod?token=abc", wod.WebhookJobGivenUp, wod.WebhookRegistrationCreated,
			wod.WebhookRegistrationCreated)
		active(true)
		if _, err := db.PauseWebhook(ctx, e.ID, "test", nil); err != nil {
			t.Fatal(err)
		}
		active(false) // a paused endpoint gets nothing
		if _, err := db.ResumeWebhook(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		active(true)
		got, err := db.FindWebhook(ctx, e.ID)
		if err != nil || got.URL != e.URL || string(got.SecretEnc) != "sealed" || got.PausedAt != nil ||
			!slices.Equal(got.Events, []wod.WebhookEventType{wod.WebhookRegistrationCreated, wod.WebhookJobGivenUp}) {
			t.Fatalf("found %+v %v", got, err)
		}
		desc := "chat"
		upd, err := db.UpdateWebhook(ctx, e.ID, wod.WebhookUpdate{Description: &desc,
			Events: []wod.WebhookEventType{wod.WebhookCheckFailed}})
		if err != nil || upd.Description != "chat" || !slices.Equal(upd.Events, []wod.WebhookEventType{wod.WebhookCheckFailed}) ||
			string(upd.SecretEnc) != "sealed" {
			t.Fatalf("updated %+v %v", upd, err)
		}
		bad := "gopher://x"
		if _, err := db.UpdateWebhook(ctx, e.ID, wod.WebhookUpdate{URL: &bad}); wod.ErrorCode(err) != wod.EINVALID {
			t.Fatalf("bad URL update: %v", err)
		}
		if _, err := db.UpdateWebhook(ctx, 999, wod.WebhookUpdate{Description: &desc}); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("update of none: %v", err)
		}
		all, err := db.FindWebhooks(ctx)
		if err != nil || len(all) != 1 || all[0].Description != "chat" {
			t.Fatalf("list %v %v", all, err)
		}
		if err := db.DeleteWebhook(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteWebhook(ctx, e.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// TestWebhooksQueuedWithTheirEvents: each event is queued in the
// transaction that records it, for the endpoints subscribed to its type
// only, and a transaction that rolls back queues nothing.
func TestWebhooksQueuedWithTheirEvents(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 5, 5)
		lifecycle := newEndpoint(t, db, "https://a.example.com/", wod.WebhookRegistrationCreated, wod.WebhookRegistrationReady,
			wod.WebhookRegistrationEnding, wod.WebhookJobGivenUp, wod.WebhookRehearsalFailed)
		checks := newEndpoint(t, db, "https://b.example.com/", wod.WebhookCheckFailed, wod.WebhookRegistrationReady)

		r, err := register(db, w.Slug, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		ds := deliveries(t, db, lifecycle.ID)
		if len(ds) != 1 || ds[0].Type != wod.WebhookRegistrationCreated || ds[0].State != wod.DeliveryQueued ||
			!ds[0].NextAttemptAt.Equal(t0) || len(ds[0].MessageID) < 10 {
			t.Fatalf("after registration: %+v", ds)
		}
		var msg struct {
			Type      wod.WebhookEventType
			Timestamp time.Time
			Data      wod.WebhookRegistration
		}
		if err := json.Unmarshal([]byte(ds[0].Payload), &msg); err != nil || msg.Type != wod.WebhookRegistrationCreated ||
			msg.Data.ID != r.ID || msg.Data.Email != "ann@example.com" || msg.Data.State != wod.StatePending ||
			msg.Data.Workshop != w.Slug || !msg.Timestamp.Equal(t0) {
			t.Fatalf("payload %s: %+v %v", ds[0].Payload, msg, err)
		}
		if n := len(deliveries(t, db, checks.ID)); n != 0 {
			t.Fatalf("the checks endpoint got %d deliveries of a type it did not ask for", n)
		}

		// A transition whose job completion is refused rolls back whole:
		// no state change, no delivery.
		ends := t0.Add(time.Hour)
		_, err = db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
			To: wod.StateReady, EndsAt: &ends, Done: &wod.JobCompletion{JobID: 424242, Attempt: 1}})
		if wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("transition with a stale job: %v", err)
		}
		if got, _ := db.FindRegistration(ctx, r.ID); got.State != wod.StatePending {
			t.Fatalf("rolled back transition left state %s", got.State)
		}
		if n := len(deliveries(t, db, lifecycle.ID)) + len(deliveries(t, db, checks.ID)); n != 1 {
			t.Fatalf("a rolled-back transition queued deliveries: %d in all", n)
		}

		// The same transition, committed: both subscribers get the one
		// message, with the same id.
		if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StatePending},
			To: wod.StateReady, EndsAt: &ends}); err != nil {
			t.Fatal(err)
		}
		a, b := deliveries(t, db, lifecycle.ID), deliveries(t, db, checks.ID)
		if len(a) != 2 || len(b) != 1 || a[1].Type != wod.WebhookRegistrationReady || b[0].MessageID != a[1].MessageID ||
			b[0].Payload != a[1].Payload || a[1].MessageID == a[0].MessageID {
			t.Fatalf("after ready: %+v / %+v", a, b)
		}
		// A step that keeps the state (an alert) raises nothing.
		if _, err := db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: []wod.RegistrationState{wod.StateReady},
			To: wod.StateReady}); err != nil {
			t.Fatal(err)
		}
		if n := len(deliveries(t, db, lifecycle.ID)); n != 2 {
			t.Fatalf("a step within a state queued a delivery: %d", n)
		}

		// Audit events with a webhook type: job given up, check failed.
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "system", Kind: "job.failed", Subject: "job:7", Detail: "purge failed"}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "location:local",
			Detail: "disk full"}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "ann", Kind: "workshop.update", Subject: "workshop:X"}); err != nil {
			t.Fatal(err)
		}
		a, b = deliveries(t, db, lifecycle.ID), deliveries(t, db, checks.ID)
		if len(a) != 3 || a[2].Type != wod.WebhookJobGivenUp || len(b) != 2 || b[1].Type != wod.WebhookCheckFailed {
			t.Fatalf("after audit events: %+v / %+v", a, b)
		}
		var ev struct{ Data wod.Event }
		if err := json.Unmarshal([]byte(b[1].Payload), &ev); err != nil || ev.Data.Detail != "disk full" ||
			ev.Data.Subject != "location:local" {
			t.Fatalf("check payload %s: %v", b[1].Payload, err)
		}

		// A rehearsal's failed verdict.
		h := &wod.Rehearsal{Workshop: w.Slug, RequestedBy: "ann"}
		if err := db.CreateRehearsal(ctx, h); err != nil {
			t.Fatal(err)
		}
		h.State, h.Error = wod.RehearsalFailed, "login refused"
		h.Notebooks = []wod.NotebookRun{{Path: "1.ipynb", Cells: []wod.CellRun{{Index: 0, Status: wod.CellOK},
			{Index: 3, Status: wod.CellError, EName: "NameError", EValue: "x"}}}}
		if err := db.FinishRehearsal(ctx, h, nil); err != nil {
			t.Fatal(err)
		}
		a = deliveries(t, db, lifecycle.ID)
		var reh struct{ Data wod.WebhookRehearsal }
		if len(a) != 4 || a[3].Type != wod.WebhookRehearsalFailed || json.Unmarshal([]byte(a[3].Payload), &reh) != nil ||
			reh.Data.Workshop != w.Slug || len(reh.Data.Failures) != 1 || *reh.Data.Failures[0].Cell != 3 ||
			reh.Data.Failures[0].Error != "NameError: x" {
			t.Fatalf("after rehearsal: %+v", a)
		}
	})
}

// TestWebhookDeliveryLeases: claims are leased and fenced by attempt; a
// failure streak long enough pauses the endpoint with its alert; a pause
// holds the deliveries until resumed; a delivery can be sent again.
func TestWebhookDeliveryLeases(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		e := newEndpoint(t, db, "https://a.example.com/", wod.WebhookCheckFailed)
		for range 2 {
			if err := db.RecordEvent(ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "platform"}); err != nil {
				t.Fatal(err)
			}
		}
		next, ok, err := db.NextWebhookDeliveryAt(ctx)
		if err != nil || !ok || !next.Equal(t0) {
			t.Fatalf("next: %v %v %v", next, ok, err)
		}
		as, err := db.ClaimWebhookDeliveries(ctx, time.Minute, 1)
		if err != nil || len(as) != 1 || as[0].URL != e.URL || string(as[0].SecretEnc) != "sealed" ||
			as[0].Delivery.Attempts != 1 || as[0].Delivery.State != wod.DeliverySending {
			t.Fatalf("claim: %+v %v", as, err)
		}
		first := as[0].Delivery
		if _, err := db.RedeliverWebhook(ctx, first.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("redeliver while sending: %v", err)
		}
		// The dispatcher died: after the lease, the delivery goes to a new
		// attempt, and the old one can no longer record its outcome.
		clock.Advance(2 * time.Minute)
		as, err = db.ClaimWebhookDeliveries(ctx, time.Minute, 5)
		if err != nil || len(as) != 2 || as[0].Delivery.ID != first.ID || as[0].Delivery.Attempts != 2 {
			t.Fatalf("reclaim: %+v %v", as, err)
		}
		second := as[1].Delivery
		if _, err := db.FinishWebhookDelivery(ctx, wod.WebhookOutcome{DeliveryID: first.ID, Attempt: 1,
			State: wod.DeliveryDelivered}); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("stale outcome: %v", err)
		}
		alert := &wod.Mail{Kind: wod.MailAlert, To: "ops@example.com", Subject: "paused", Text: "paused"}
		retry := clock.Now().Add(time.Minute)
		paused, err := db.FinishWebhookDelivery(ctx, wod.WebhookOutcome{DeliveryID: first.ID, Attempt: 2,
			State: wod.DeliveryQueued, RetryAt: &retry, Status: 500, Response: "oops", Error: "the endpoint answered 500",
			PauseFailures: 2, PauseAfter: time.Minute, Alert: alert})
		if err != nil || paused {
			t.Fatalf("first failure: paused %v, %v", paused, err)
		}
		got, _ := db.FindWebhookDelivery(ctx, first.ID)
		if got.State != wod.DeliveryQueued || got.LastStatus != 500 || got.LastResponse != "oops" || !got.NextAttemptAt.Equal(retry) ||
			got.LastAttemptAt == nil {
			t.Fatalf("after failure: %+v", got)
		}
		clock.Advance(time.Minute)
		paused, err = db.FinishWebhookDelivery(ctx, wod.WebhookOutcome{DeliveryID: second.ID, Attempt: 1,
			State: wod.DeliveryQueued, RetryAt: &retry, Error: "connection refused", PauseFailures: 2, PauseAfter: time.Minute,
			Alert: alert})
		if err != nil || !paused {
			t.Fatalf("second failure: paused %v, %v", paused, err)
		}
		ep, _ := db.FindWebhook(ctx, e.ID)
		if ep.PausedAt == nil || ep.ConsecutiveFailures != 2 || ep.FailingSince == nil || ep.PauseReason == "" {
			t.Fatalf("endpoint after the streak: %+v", ep)
		}
		ms, _, _ := db.FindMails(ctx, wod.MailFilter{})
		if len(ms) != 1 || ms[0].Subject != "paused" {
			t.Fatalf("alert mails: %+v", ms)
		}
		clock.Advance(time.Hour)
		if as, err := db.ClaimWebhookDeliveries(ctx, time.Minute, 5); err != nil || len(as) != 0 {
			t.Fatalf("claimed %d of a paused endpoint: %v", len(as), err)
		}
		if _, ok, _ := db.NextWebhookDeliveryAt(ctx); ok {
			t.Fatal("a paused endpoint's deliveries are due")
		}
		if _, err := db.PauseWebhook(ctx, e.ID, "again", nil); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("second pause: %v", err)
		}
		ep, err = db.ResumeWebhook(ctx, e.ID)
		if err != nil || ep.PausedAt != nil || ep.ConsecutiveFailures != 0 {
			t.Fatalf("resume: %+v %v", ep, err)
		}
		as, err = db.ClaimWebhookDeliveries(ctx, time.Minute, 5)
		if err != nil || len(as) != 2 || as[0].Delivery.Attempts != 1 {
			t.Fatalf("claim after resume: %+v %v", as, err)
		}
		for _, a := range as {
			if _, err := db.FinishWebhookDelivery(ctx, wod.WebhookOutcome{DeliveryID: a.Delivery.ID, Attempt: a.Delivery.Attempts,
				State: wod.DeliveryDelivered, Status: 204}); err != nil {
				t.Fatal(err)
			}
		}
		ep, _ = db.FindWebhook(ctx, e.ID)
		got, _ = db.FindWebhookDelivery(ctx, first.ID)
		if ep.LastSuccessAt == nil || got.State != wod.DeliveryDelivered || got.DeliveredAt == nil || got.LastError != "" {
			t.Fatalf("delivered: %+v / %+v", ep, got)
		}
		again, err := db.RedeliverWebhook(ctx, first.ID)
		if err != nil || again.State != wod.DeliveryQueued || again.Attempts != 0 || again.MessageID != first.MessageID {
			t.Fatalf("redeliver: %+v %v", again, err)
		}
		state := wod.DeliveryQueued
		if ds, n, err := db.FindWebhookDeliveries(ctx, wod.WebhookDeliveryFilter{State: &state}); err != nil || n != 1 || ds[0].ID != first.ID {
			t.Fatalf("queued deliveries: %d %v", n, err)
		}
		if _, err := db.RedeliverWebhook(ctx, 999); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("redeliver none: %v", err)
		}
		if err := db.DeleteWebhook(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindWebhookDelivery(ctx, first.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("delivery of a deleted endpoint: %v", err)
		}
	})
}

// TestTransitionFromSeveralStates: a step from several states raises its
// webhook by the state the registration was in, once, and is refused,
// naming the state, when the registration is in none of them; whether it
// runs as one statement (all its states raise the same, as for an end) or
// locks and reads the row first (they differ) changes nothing of that.
func TestTransitionFromSeveralStates(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 5, 5)
		hook := newEndpoint(t, db, "https://a.example.com/", wod.WebhookRegistrationReady, wod.WebhookRegistrationEnding)
		r, err := register(db, w.Slug, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		types := func() []wod.WebhookEventType {
			var ts []wod.WebhookEventType
			for _, d := range deliveries(t, db, hook.ID) {
				ts = append(ts, d.Type)
			}
			return ts
		}
		step := func(from []wod.RegistrationState, to wod.RegistrationState) (*wod.Registration, error) {
			return db.Transition(ctx, &wod.Transition{RegistrationID: r.ID, From: from, To: to})
		}

		if _, err := step(wod.EndableStates[1:], wod.StateEnding); wod.ErrorCode(err) != wod.ECONFLICT ||
			!strings.Contains(err.Error(), "is pending") {
			t.Fatalf("end of a pending registration from running states only: %v", err)
		}
		// pending → ready raises "ready", ready → ready nothing: the row is read.
		mixed := []wod.RegistrationState{wod.StatePending, wod.StateReady}
		if got, err := step(mixed, wod.StateReady); err != nil || got.State != wod.StateReady {
			t.Fatalf("to ready from pending: %v %v", got, err)
		}
		if got, err := step(mixed, wod.StateReady); err != nil || got.State != wod.StateReady {
			t.Fatalf("to ready from ready: %v %v", got, err)
		}
		// ready or expiring → ready raise nothing either way: one statement.
		if _, err := step(wod.RunningStates, wod.StateReady); err != nil {
			t.Fatalf("to ready from a running state: %v", err)
		}
		if got, err := step(wod.EndableStates, wod.StateEnding); err != nil || got.State != wod.StateEnding {
			t.Fatalf("end: %v %v", got, err)
		}
		if _, err := step(wod.EndableStates, wod.StateEnding); wod.ErrorCode(err) != wod.ECONFLICT ||
			!strings.Contains(err.Error(), "is ending") {
			t.Fatalf("end again: %v", err)
		}
		if got := fmt.Sprint(types()); got != fmt.Sprint([]wod.WebhookEventType{wod.WebhookRegistrationReady, wod.WebhookRegistrationEnding}) {
			t.Fatalf("deliveries: %s", got)
		}
	})
}
