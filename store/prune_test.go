package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestPrune: history older than the cut goes (mail bodies, finished jobs,
// audit events, stale login throttles); what is recent or still under way
// stays, and so do the outbox rows that keep a mail from going twice.
func TestPrune(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		l, a := fixture(t, db, 10, 1, 10, 10)
		hook := newEndpoint(t, db, "https://hooks.example.com/", wod.WebhookRegistrationCreated)
		book := func(email string) *wod.Registration {
			t.Helper()
			r, err := db.CreateRegistration(ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: a.Slug, Name: "Ann", Email: email},
				Jobs:    []*wod.Job{{Kind: wod.JobWatchdog, RunAt: clock.Now()}},
				Mails:   []*wod.Mail{{Kind: wod.MailWelcome, To: email, Subject: "Welcome", Text: "hello " + email, HTML: "<p>hello</p>"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		sendAll := func() {
			t.Helper()
			ms, err := db.ClaimMails(ctx, time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if err := db.FinishMail(ctx, m.ID, wod.MailSent, "", nil); err != nil {
					t.Fatal(err)
				}
			}
			as, err := db.ClaimWebhookDeliveries(ctx, time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if _, err := db.FinishWebhookDelivery(ctx, wod.WebhookOutcome{DeliveryID: a.Delivery.ID, Attempt: a.Delivery.Attempts,
					State: wod.DeliveryDelivered, Status: 200}); err != nil {
					t.Fatal(err)
				}
			}
		}
		finishJobs := func() {
			t.Helper()
			js, _, err := db.ClaimJobs(ctx, []wod.JobKind{wod.JobWatchdog}, nil, "test", time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range js {
				if err := db.CompleteJob(ctx, &wod.JobCompletion{JobID: j.ID, Attempt: j.Attempts}); err != nil {
					t.Fatal(err)
				}
			}
		}

		old := book("old@example.com")
		sendAll()
		finishJobs()
		failed := storetest.FailedJob(t, db, wod.JobReset, l.ID, "disk full") // failed: kept whatever its age
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "ops", Kind: "login.failed", Subject: "user:ops"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReserveLoginAttempt(ctx, wod.LoginLimit{Key: "ip:192.0.2.1", Free: 5,
			FirstLock: time.Minute, MaxLock: time.Hour, Window: 15 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(200 * 24 * time.Hour)
		recent := book("recent@example.com")
		sendAll()
		finishJobs()
		queued := book("queued@example.com") // its mail and job still wait
		if err := db.RecordEvent(ctx, &wod.Event{Actor: "ops", Kind: "workshop.update", Subject: "workshop:x"}); err != nil {
			t.Fatal(err)
		}

		p, err := db.Prune(ctx, clock.Now().Add(-180*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if p != (wod.Pruned{MailBodies: 1, Jobs: 1, Events: 1, LoginFailures: 1, WebhookDeliveries: 1}) {
			t.Fatalf("pruned %+v", p)
		}
		if again, err := db.Prune(ctx, clock.Now().Add(-180*24*time.Hour)); err != nil || again.Total() != 0 {
			t.Fatalf("pruned again: %+v %v", again, err)
		}

		mails := func(r *wod.Registration) []*wod.Mail {
			ms, _, err := db.FindMails(ctx, wod.MailFilter{RegistrationID: &r.ID, Page: wod.Page{Limit: 10}})
			if err != nil || len(ms) != 1 {
				t.Fatalf("mails of %d: %v %v", r.ID, ms, err)
			}
			return ms
		}
		if m := mails(old)[0]; m.Text != "" || m.HTML != "" || m.State != wod.MailSent || m.Subject != "Welcome" {
			t.Fatalf("old mail: %+v", m)
		}
		if m := mails(recent)[0]; m.Text == "" || m.HTML == "" {
			t.Fatalf("recent mail lost its body: %+v", m)
		}
		if m := mails(queued)[0]; m.Text == "" || m.State != wod.MailQueued {
			t.Fatalf("queued mail: %+v", m)
		}
		jobs := func(r *wod.Registration) int {
			_, n, err := db.FindJobs(ctx, wod.JobFilter{RegistrationID: &r.ID, Page: wod.Page{Limit: 10}})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if jobs(old) != 0 || jobs(recent) != 1 || jobs(queued) != 1 {
			t.Fatalf("jobs: old %d, recent %d, queued %d", jobs(old), jobs(recent), jobs(queued))
		}
		if _, err := db.FindJob(ctx, failed.ID); err != nil {
			t.Fatalf("the failed job went: %v", err)
		}
		_, n, err := db.FindEvents(ctx, wod.EventFilter{Page: wod.Page{Limit: 10}})
		if err != nil || n != 1 {
			t.Fatalf("events left: %d %v", n, err)
		}
		// The recent delivery and the one still waiting stay.
		if ds := deliveries(t, db, hook.ID); len(ds) != 2 || ds[0].State != wod.DeliveryDelivered || ds[1].State != wod.DeliveryQueued {
			t.Fatalf("webhook deliveries left: %+v", ds)
		}
		if r, err := db.FindRegistration(ctx, old.ID); err != nil || r.Email != "old@example.com" {
			t.Fatalf("the registration went: %+v %v", r, err)
		}
	})
}

// TestPruneInBatches: a long history goes in several transactions, all of
// it.
func TestPruneInBatches(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		const n = 2500 // more than two batches
		for i := range n {
			if err := db.RecordEvent(ctx, &wod.Event{Actor: "agent:local", Kind: "guard.kill", Detail: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Hour)
		p, err := db.Prune(ctx, clock.Now())
		if err != nil || p.Events != n {
			t.Fatalf("pruned %+v %v, want %d events", p, err, n)
		}
		if _, left, err := db.FindEvents(ctx, wod.EventFilter{Page: wod.Page{Limit: 1}}); err != nil || left != 0 {
			t.Fatalf("events left: %d %v", left, err)
		}
	})
}
