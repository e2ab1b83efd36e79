package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// letExtend lets WKSHP-A's participants add by to their session.
func (w *world) letExtend(by time.Duration) {
	w.t.Helper()
	d := wod.Duration(by)
	if _, err := w.db.UpdateWorkshop(w.ctx, "WKSHP-A", wod.WorkshopUpdate{Extend: &d}); err != nil {
		w.t.Fatal(err)
	}
}

// reminders lists the reminder mails of a registration in the outbox.
func (w *world) reminders(id int64) []*wod.Mail {
	w.t.Helper()
	kind := wod.MailReminder
	ms, _, err := w.db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &id, Kind: &kind})
	if err != nil {
		w.t.Fatal(err)
	}
	return ms
}

// A participant adds the workshop's time once, from the reminder's link;
// a second time is refused, and the new end gets its own reminder, sent
// exactly once however often the timers run.
func TestParticipantExtendsOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "ann@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.tick()
		ends := *w.reg(r.ID).EndsAt

		// Not offered by the workshop: refused, and the reminder offers nothing.
		if _, err := w.eng.ExtendSelf(w.ctx, r.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("extend where the workshop does not allow it: %v", err)
		}
		w.letExtend(30 * time.Minute)
		if by, err := w.eng.SelfExtension(w.ctx, w.reg(r.ID)); err != nil || by != 30*time.Minute {
			t.Fatalf("offered %v, %v; want 30m", by, err)
		}

		clock.Advance(time.Hour) // the reminder, with the link
		w.tick()
		w.tick()
		if got := w.mailsTo("ann@example.com"); len(got) != 3 || !strings.Contains(got[2], "will end") {
			t.Fatalf("mails: %v", got)
		}
		reminder := w.out.sent[len(w.out.sent)-1]
		if !strings.Contains(reminder.Text, w.eng.ExtendURL(r.ID)) || !strings.Contains(reminder.Text, "add 30 minutes") {
			t.Fatalf("the reminder lacks the extend link:\n%s", reminder.Text)
		}

		got, err := w.eng.ExtendSelf(w.ctx, r.ID)
		if err != nil || got.State != wod.StateReady || !got.SelfExtended || !got.EndsAt.Equal(ends.Add(30*time.Minute)) {
			t.Fatalf("extend: %+v, %v", got, err)
		}
		if _, err := w.eng.ExtendSelf(w.ctx, r.ID); wod.ErrorCode(err) != wod.ECONFLICT || !strings.Contains(err.Error(), "once") {
			t.Fatalf("second extension: %v", err)
		}
		if by, _ := w.eng.SelfExtension(w.ctx, w.reg(r.ID)); by != 0 {
			t.Fatalf("still offered after use: %v", by)
		}
		w.tick()
		if got := w.mailsTo("ann@example.com"); len(got) != 3 {
			t.Fatalf("a participant's own extension sends no mail: %v", got)
		}

		// The new reminder an hour before the new end, exactly once, and
		// this time without the link (used up).
		clock.Advance(29 * time.Minute)
		w.tick()
		if got := w.reg(r.ID).State; got != wod.StateReady {
			t.Fatalf("a minute before the new reminder: %s", got)
		}
		clock.Advance(time.Minute)
		w.tick()
		w.tick()
		if got := w.mailsTo("ann@example.com"); len(got) != 4 || !strings.Contains(got[3], "will end") {
			t.Fatalf("mails after the new reminder time: %v", got)
		}
		if w.reg(r.ID).State != wod.StateExpiring {
			t.Fatalf("after the second reminder: %s", w.reg(r.ID).State)
		}
		if strings.Contains(w.out.sent[len(w.out.sent)-1].Text, "Need more time") {
			t.Fatal("the second reminder offers the extension again")
		}
		if ms := w.reminders(r.ID); len(ms) != 2 || ms[0].Key == ms[1].Key {
			t.Fatalf("reminders in the outbox: %d", len(ms))
		}
	})
}

// Nobody extends while someone waits for a seat of the workshop: not
// offered, and refused if asked (the store checks in the step).
func TestParticipantExtendRefusedWhileSomeoneWaits(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		w.letExtend(30 * time.Minute)
		holders := w.fill()
		b := w.wait("WKSHP-A", "bob@example.com")
		if by, err := w.eng.SelfExtension(w.ctx, w.reg(holders[0].ID)); err != nil || by != 0 {
			t.Fatalf("offered %v, %v while someone waits", by, err)
		}
		_, err := w.eng.ExtendSelf(w.ctx, holders[0].ID)
		if wod.ErrorCode(err) != wod.ECONFLICT || !strings.Contains(err.Error(), "wait") {
			t.Fatalf("extend while someone waits: %v", err)
		}
		if got := w.reg(holders[0].ID); got.SelfExtended || !got.EndsAt.Equal(*holders[0].EndsAt) {
			t.Fatalf("a refused extension changed the registration: %+v", got)
		}
		// The line empties: the extension is offered again.
		if _, err := w.eng.LeaveLine(w.ctx, b.ID, "participant"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.eng.ExtendSelf(w.ctx, holders[0].ID); err != nil {
			t.Fatalf("extend once the line is empty: %v", err)
		}
	})
}

// An operator's extension tells the participant (a mail per extension),
// and is followed by a reminder before the new end even when it was given
// after the reminder, and even when the new end is nearer than the
// reminder's lead (then the reminder goes at once).
func TestOperatorExtensionMailsAndRemindsAgain(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		r := w.register("WKSHP-A", "eve@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		w.tick()
		clock.Advance(time.Hour + 30*time.Minute) // reminded; 30 minutes left
		w.tick()
		if got := w.mailsTo("eve@example.com"); len(got) != 3 || w.reg(r.ID).State != wod.StateExpiring {
			t.Fatalf("before the extension: %v, %s", got, w.reg(r.ID).State)
		}
		ends := w.reg(r.ID).EndsAt.Add(20 * time.Minute)
		if _, err := w.eng.Extend(w.ctx, r.ID, 20*time.Minute, "ops"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		w.tick()
		// Both are due at once; the outbox sends them in either order.
		got := w.mailsTo("eve@example.com")
		last := strings.Join(got[3:], "\n")
		if len(got) != 5 || !strings.Contains(last, "extended until "+ends.UTC().Format("Mon 2 Jan 15:04 UTC")) ||
			!strings.Contains(last, "will end in 50 minutes") {
			t.Fatalf("after the extension: %v", got)
		}
		if text := w.out.sent[len(w.out.sent)-2].Text + w.out.sent[len(w.out.sent)-1].Text; !strings.Contains(text, "more time: 20 minutes") {
			t.Fatalf("extended mail:\n%s", text)
		}
		// A second operator extension: a second notice, a third reminder.
		if _, err := w.eng.Extend(w.ctx, r.ID, 2*time.Hour, "ops"); err != nil {
			t.Fatal(err)
		}
		w.tick()
		clock.Advance(110 * time.Minute)
		w.tick()
		w.tick()
		if got := w.mailsTo("eve@example.com"); len(got) != 7 || !strings.Contains(got[5], "extended") ||
			!strings.Contains(got[6], "will end in one hour") {
			t.Fatalf("after the second extension: %v", got)
		}
		kind := wod.MailExtended
		if ms, _, _ := db.FindMails(w.ctx, wod.MailFilter{RegistrationID: &r.ID, Kind: &kind}); len(ms) != 2 {
			t.Fatalf("extended mails: %d", len(ms))
		}
		if ms := w.reminders(r.ID); len(ms) != 3 {
			t.Fatalf("reminders: %d", len(ms))
		}
	})
}

// An extension takes an expiring session back to ready without a second
// "registration.ready" event: the credentials did not go out again.
func TestExtensionRaisesNoSecondReadyEvent(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newHookWorld(t, db, clock, wod.WebhookRegistrationReady)
		r := w.register("WKSHP-A", "ann@example.com")
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "pw"})
		clock.Advance(time.Hour)
		w.tick()
		if got := w.reg(r.ID).State; got != wod.StateExpiring {
			t.Fatalf("before the extension: %s", got)
		}
		if got, err := w.eng.Extend(w.ctx, r.ID, 2*time.Hour, "ops"); err != nil || got.State != wod.StateReady {
			t.Fatalf("extend: %v", err)
		}
		ds, _, err := db.FindWebhookDeliveries(w.ctx, wod.WebhookDeliveryFilter{EndpointID: &w.ep.ID})
		if err != nil || len(ds) != 1 || ds[0].Type != wod.WebhookRegistrationReady {
			t.Fatalf("deliveries: %d, %v", len(ds), err)
		}
	})
}
