package engine_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
	"github.com/wod-dev/wod/webhook"
)

// receiver is an operator's webhook endpoint on loopback. It checks every
// message's signature with its own reading of the Standard Webhooks
// specification, not with the sender's code, and answers what answer says.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	clock  wod.Clock

	mu       sync.Mutex
	seen     []string // webhook-id of every request that reached it
	accepted []message
	answer   func(n int) int // status of the n-th request (from 1); nil: 200
	hold     chan struct{}   // when set, requests wait for it (or for the sender to give up)
}

type message struct {
	ID   string
	Type wod.WebhookEventType
	Body []byte
}

func newReceiver(t *testing.T, secret string, clock wod.Clock) *receiver {
	rc := &receiver{t: t, secret: secret, clock: clock}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// verify is the specification's check: the key is the base64 after
// "whsec_"; the signed content is "{id}.{timestamp}.{body}"; the header
// holds space-separated "v1,{base64 HMAC-SHA256}" signatures, one of which
// must match; the timestamp must be within five minutes.
func (rc *receiver) verify(h http.Header, body []byte) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "missing webhook headers"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	if d := rc.clock.Now().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "timestamp outside tolerance"
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret, "whsec_"))
	if err != nil {
		return "bad secret"
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no signature matches"
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if problem := rc.verify(r.Header, body); problem != "" {
		rc.t.Errorf("receiver: %s", problem)
		http.Error(w, problem, http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.Header.Get("webhook-id"))
	n, answer, hold := len(rc.seen), rc.answer, rc.hold
	rc.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return // the sender gave up: it never heard an answer
		}
	}
	status := http.StatusOK
	if answer != nil {
		status = answer(n)
	}
	if status/100 == 2 {
		var m struct{ Type wod.WebhookEventType }
		if err := json.Unmarshal(body, &m); err != nil {
			rc.t.Errorf("receiver: body %q: %v", body, err)
		}
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, message{ID: r.Header.Get("webhook-id"), Type: m.Type, Body: body})
		rc.mu.Unlock()
	}
	w.WriteHeader(status)
	// More than the sender keeps of an answer.
	w.Write(bytes.Repeat([]byte("ok "), 1000))
}

func (rc *receiver) got() ([]string, []message) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.seen...), append([]message(nil), rc.accepted...)
}

type hookWorld struct {
	*world
	secret string
	ep     *wod.WebhookEndpoint
	rc     *receiver
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHookWorld(t *testing.T, db *store.DB, clock *storetest.Clock, events ...wod.WebhookEventType) *hookWorld {
	w := &hookWorld{world: newWorld(t, db, clock), secret: webhook.NewSecret(), logs: &syncBuffer{}}
	w.rc = newReceiver(t, w.secret, clock)
	sealed, err := w.keys.Encrypt(w.secret)
	if err != nil {
		t.Fatal(err)
	}
	w.ep = &wod.WebhookEndpoint{URL: w.rc.srv.URL + "/hooks/wod?token=receiver-token", Events: events, SecretEnc: sealed}
	if err := db.CreateWebhook(w.ctx, w.ep); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *hookWorld) dispatcher() *engine.WebhookDispatcher {
	return &engine.WebhookDispatcher{Store: w.db, Client: webhook.NewClient(5*time.Second, "wod-test"), Keys: w.keys,
		Clock: w.clock, Logger: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Alerts: w.eng, Timeout: 5 * time.Second}
}

func (w *hookWorld) deliverDue(d *engine.WebhookDispatcher) int {
	w.t.Helper()
	n, err := d.DeliverDue(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *hookWorld) deliveries() []*wod.WebhookDelivery {
	w.t.Helper()
	ds, _, err := w.db.FindWebhookDeliveries(w.ctx, wod.WebhookDeliveryFilter{EndpointID: &w.ep.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

// TestWebhooksDeliveredSigned follows a registration's life to a real
// receiver: every message it subscribed to arrives once, signed, in order,
// and the deliveries keep the answers (cut short); the secret is in no log.
func TestWebhooksDeliveredSigned(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookRegistrationCreated, wod.WebhookRegistrationReady,
			wod.WebhookRegistrationEnding, wod.WebhookRegistrationDone)
		d := w.dispatcher()
		r := w.register("WKSHP-A", "ann@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		if _, err := w.eng.EndNow(w.ctx, r.ID, "ann"); err != nil {
			t.Fatal(err)
		}
		w.report(w.claim(wod.JobCleanup), wod.AgentResult{OK: true, Completion: pct(80)})
		if n := w.deliverDue(d); n != 4 {
			t.Fatalf("delivered %d, want 4", n)
		}
		if n := w.deliverDue(d); n != 0 {
			t.Fatalf("delivered %d more", n)
		}
		seen, acc := w.rc.got()
		var types []string
		for _, m := range acc {
			types = append(types, string(m.Type))
		}
		if len(seen) != 4 || strings.Join(types, " ") != "registration.created registration.ready registration.ending registration.done" {
			t.Fatalf("received %v", types)
		}
		var done struct{ Data wod.WebhookRegistration }
		if err := json.Unmarshal(acc[3].Body, &done); err != nil || done.Data.ID != r.ID || done.Data.Completion == nil ||
			*done.Data.Completion != 80 || done.Data.State != wod.StateDone {
			t.Fatalf("done message %s: %v", acc[3].Body, err)
		}
		for _, del := range w.deliveries() {
			if del.State != wod.DeliveryDelivered || del.Attempts != 1 || del.LastStatus != 200 ||
				len(del.LastResponse) != webhook.MaxResponse || del.DeliveredAt == nil {
				t.Fatalf("delivery %+v", del)
			}
		}
		if logs := w.logs.String(); strings.Contains(logs, w.secret) || strings.Contains(logs, strings.TrimPrefix(w.secret, "whsec_")) {
			t.Fatalf("the secret is in the logs:\n%s", logs)
		}
	})
}

// TestWebhookRetriesWithBackoff: a failing endpoint gets the same message
// (same webhook-id) again on the schedule, until it takes it.
func TestWebhookRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookCheckFailed)
		w.rc.answer = func(n int) int {
			if n < 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		}
		d := w.dispatcher()
		if err := db.RecordEvent(w.ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "platform", Detail: "disk"}); err != nil {
			t.Fatal(err)
		}
		w.deliverDue(d)
		del := w.deliveries()[0]
		if del.State != wod.DeliveryQueued || del.Attempts != 1 || del.LastStatus != 503 ||
			!del.NextAttemptAt.Equal(clock.Now().Add(engine.WebhookBackoff(1))) || !strings.Contains(del.LastError, "503") {
			t.Fatalf("after the first failure: %+v", del)
		}
		if n := w.deliverDue(d); n != 0 {
			t.Fatalf("retried before its time: %d", n)
		}
		clock.Advance(engine.WebhookBackoff(1))
		w.deliverDue(d)
		del = w.deliveries()[0]
		if del.Attempts != 2 || !del.NextAttemptAt.Equal(clock.Now().Add(engine.WebhookBackoff(2))) ||
			engine.WebhookBackoff(2) <= engine.WebhookBackoff(1) {
			t.Fatalf("after the second failure: %+v", del)
		}
		clock.Advance(engine.WebhookBackoff(2))
		w.deliverDue(d)
		del = w.deliveries()[0]
		seen, acc := w.rc.got()
		if del.State != wod.DeliveryDelivered || del.Attempts != 3 || del.LastStatus != 204 || del.LastError != "" ||
			len(seen) != 3 || seen[0] != seen[2] || len(acc) != 1 || acc[0].ID != del.MessageID {
			t.Fatalf("after the third attempt: %+v, seen %v", del, seen)
		}
		ep, _ := db.FindWebhook(w.ctx, w.ep.ID)
		if ep.ConsecutiveFailures != 0 || ep.PausedAt != nil || ep.LastSuccessAt == nil {
			t.Fatalf("endpoint %+v", ep)
		}

		// Attempts run out: failed for good, until an operator sends it again.
		w.rc.answer = func(int) int { return http.StatusInternalServerError }
		d.MaxAttempts = 2
		if err := db.RecordEvent(w.ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "platform"}); err != nil {
			t.Fatal(err)
		}
		w.deliverDue(d)
		clock.Advance(engine.WebhookBackoff(1))
		w.deliverDue(d)
		last := w.deliveries()[0]
		if last.State != wod.DeliveryFailed || last.Attempts != 2 {
			t.Fatalf("exhausted delivery: %+v", last)
		}
		w.rc.answer = nil
		if _, err := db.RedeliverWebhook(w.ctx, last.ID); err != nil {
			t.Fatal(err)
		}
		w.deliverDue(d)
		if last = w.deliveries()[0]; last.State != wod.DeliveryDelivered || last.Attempts != 1 {
			t.Fatalf("redelivered: %+v", last)
		}
	})
}

// TestWebhookEndpointPausedAfterFailures: an endpoint that fails every
// attempt long enough is paused with an alert to the operators; its
// deliveries wait, and go out once it is resumed.
func TestWebhookEndpointPausedAfterFailures(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookJobGivenUp)
		w.rc.answer = func(int) int { return http.StatusBadGateway }
		d := w.dispatcher()
		d.PauseFailures, d.PauseAfter = 3, time.Hour
		d.Backoff = func(int) time.Duration { return 40 * time.Minute }
		for i := range 2 {
			if err := db.RecordEvent(w.ctx, &wod.Event{Actor: "system", Kind: "job.failed", Subject: "job:" + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		w.deliverDue(d) // two failures at T0: not for long enough yet
		clock.Advance(40 * time.Minute)
		w.deliverDue(d) // four, over 40 minutes: not yet
		ep, _ := db.FindWebhook(w.ctx, w.ep.ID)
		if ep.PausedAt != nil || ep.ConsecutiveFailures != 4 {
			t.Fatalf("paused too early: %+v", ep)
		}
		clock.Advance(40 * time.Minute)
		w.deliverDue(d) // 80 minutes of failures: paused at the first
		ep, _ = db.FindWebhook(w.ctx, w.ep.ID)
		if ep.PausedAt == nil || !strings.Contains(ep.PauseReason, "failed attempts") {
			t.Fatalf("not paused: %+v", ep)
		}
		alerts, _, _ := db.FindMails(w.ctx, wod.MailFilter{Kind: new(wod.MailAlert)})
		if len(alerts) != 1 || !strings.Contains(alerts[0].Text, "paused") || strings.Contains(alerts[0].Text, "receiver-token") ||
			alerts[0].To != "ops@acme.test" {
			t.Fatalf("alerts %+v", alerts)
		}
		seen, _ := w.rc.got()
		clock.Advance(10 * time.Hour)
		if err := db.RecordEvent(w.ctx, &wod.Event{Actor: "system", Kind: "job.failed", Subject: "job:9"}); err != nil {
			t.Fatal(err)
		}
		if n := w.deliverDue(d); n != 0 {
			t.Fatalf("a paused endpoint got %d attempts", n)
		}
		if again, _ := w.rc.got(); len(again) != len(seen) {
			t.Fatalf("a paused endpoint was called")
		}
		w.rc.answer = nil
		if _, err := db.ResumeWebhook(w.ctx, w.ep.ID); err != nil {
			t.Fatal(err)
		}
		if n := w.deliverDue(d); n != 3 {
			t.Fatalf("after resume, delivered %d, want 3", n)
		}
		if _, acc := w.rc.got(); len(acc) != 3 {
			t.Fatalf("accepted %d", len(acc))
		}
	})
}

// TestWebhookCrashBetweenEventAndDelivery: events are committed while no
// dispatcher runs; a dispatcher starts, is stopped in the middle of a
// send, and a new one on the same database (a restart) delivers each
// message exactly once.
func TestWebhookCrashBetweenEventAndDelivery(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookRegistrationCreated)
		w.register("WKSHP-A", "ann@example.com")
		w.register("WKSHP-B", "bob@example.com")

		hold := make(chan struct{})
		w.rc.mu.Lock()
		w.rc.hold = hold
		w.rc.mu.Unlock()
		ctx, stop := context.WithCancel(w.ctx)
		first := w.dispatcher()
		done := make(chan struct{})
		go func() { first.Run(ctx); close(done) }()
		// The first dispatcher is in the middle of its first send: stop it
		// there, as a crash would.
		for {
			if seen, _ := w.rc.got(); len(seen) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		<-done
		if _, acc := w.rc.got(); len(acc) != 0 {
			t.Fatalf("accepted %d before the crash", len(acc))
		}
		w.rc.mu.Lock()
		w.rc.hold = nil
		w.rc.mu.Unlock()

		// The restart: a new dispatcher. The delivery the first one held
		// waits for its lease to end; the other goes now.
		second := w.dispatcher()
		w.deliverDue(second)
		clock.Advance(time.Minute)
		w.deliverDue(second)
		clock.Advance(time.Hour)
		w.deliverDue(second)
		_, acc := w.rc.got()
		ids := map[string]int{}
		for _, m := range acc {
			ids[m.ID]++
		}
		if len(acc) != 2 || len(ids) != 2 {
			t.Fatalf("accepted %d messages (%v), want each of 2 once", len(acc), ids)
		}
		for _, del := range w.deliveries() {
			if del.State != wod.DeliveryDelivered {
				t.Fatalf("delivery %+v", del)
			}
		}
	})
}

// TestWebhookClientSafety: no redirect to another host is followed, a
// receiver that does not answer is given up on, and an endpoint's secret
// that cannot be unsealed fails the attempt without calling it.
func TestWebhookClientSafety(t *testing.T) {
	t.Parallel()
	other := newReceiver(t, webhook.NewSecret(), wod.SystemClock{})
	var sameHost int
	var mu sync.Mutex
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.srv.URL+"/", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusPermanentRedirect)
		case "/here":
			mu.Lock()
			sameHost++
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		case "/silent":
			// The body read, the server notices the sender hanging up.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}
	}))
	t.Cleanup(redirector.Close)
	c := webhook.NewClient(300*time.Millisecond, "wod-test")
	secret := webhook.NewSecret()
	ctx := context.Background()
	if _, err := c.Send(ctx, redirector.URL+"/away", secret, "msg_1", time.Now(), []byte(`{}`)); err == nil ||
		!strings.Contains(err.Error(), "another host") {
		t.Fatalf("redirect away: %v", err)
	}
	if seen, _ := other.got(); len(seen) != 0 {
		t.Fatal("the other host got the message")
	}
	ans, err := c.Send(ctx, redirector.URL+"/moved", secret, "msg_2", time.Now(), []byte(`{}`))
	if err != nil || ans.Status != http.StatusAccepted || !ans.OK() || sameHost != 1 {
		t.Fatalf("same-host redirect: %+v %v", ans, err)
	}
	if _, err := c.Send(ctx, redirector.URL+"/silent?token=hidden", secret, "msg_3", time.Now(), []byte(`{}`)); err == nil ||
		strings.Contains(err.Error(), "hidden") || strings.Contains(err.Error(), "silent") {
		t.Fatalf("silent receiver: %v", err)
	}
	if _, err := c.Send(ctx, redirector.URL+"/here", "whsec_!!!", "msg_4", time.Now(), []byte(`{}`)); err == nil {
		t.Fatal("sent with a secret that is not base64")
	}

	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookCheckFailed)
		if _, err := db.UpdateWebhook(w.ctx, w.ep.ID, wod.WebhookUpdate{SecretEnc: []byte("not sealed by this server")}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordEvent(w.ctx, &wod.Event{Actor: "check", Kind: wod.EventCheckFailed, Subject: "platform"}); err != nil {
			t.Fatal(err)
		}
		w.deliverDue(w.dispatcher())
		del := w.deliveries()[0]
		if seen, _ := w.rc.got(); len(seen) != 0 || del.State != wod.DeliveryQueued || !strings.Contains(del.LastError, "rotate") {
			t.Fatalf("unsealable secret: %+v", del)
		}
	})
}

// TestWebhookDispatcherWithoutEndpoints: with no endpoint the running
// dispatcher only asks whether one came; one added is served within
// seconds.
func TestWebhookDispatcherWithoutEndpoints(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := &hookWorld{world: newWorld(t, db, clock), secret: webhook.NewSecret(), logs: &syncBuffer{}}
		w.rc = newReceiver(t, w.secret, clock)
		ctx, stop := context.WithCancel(w.ctx)
		done := make(chan struct{})
		d := w.dispatcher()
		d.Wake = w.eng.Notified
		go func() { d.Run(ctx); close(done) }()
		defer func() { stop(); <-done }()
		w.register("WKSHP-A", "ann@example.com") // no endpoint: nothing queued

		sealed, err := w.keys.Encrypt(w.secret)
		if err != nil {
			t.Fatal(err)
		}
		w.ep = &wod.WebhookEndpoint{URL: w.rc.srv.URL + "/hooks/wod", Events: []wod.WebhookEventType{wod.WebhookRegistrationCreated},
			SecretEnc: sealed}
		if err := db.CreateWebhook(w.ctx, w.ep); err != nil {
			t.Fatal(err)
		}
		r := w.register("WKSHP-B", "bob@example.com")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, acc := w.rc.got(); len(acc) == 1 {
				var created struct{ Data wod.WebhookRegistration }
				if err := json.Unmarshal(acc[0].Body, &created); err != nil || created.Data.ID != r.ID {
					t.Fatalf("message %s: %v", acc[0].Body, err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the new endpoint got nothing within 10 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
