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

// TestClaimMails: a claim takes the due mails, oldest due first and no
// more than its limit, and the sends whose lease ran out (a dispatcher
// that died mid-send); never a mail not yet due, one being sent under a
// live lease, or one already sent.
func TestClaimMails(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, a := fixture(t, db, 10, 1, 10, 10)
		book := func(email string, due time.Duration) *wod.Mail {
			t.Helper()
			m := &wod.Mail{Kind: wod.MailWelcome, To: email, Subject: "Welcome", Text: "hello", NextAttemptAt: clock.Now().Add(due)}
			if _, err := db.CreateRegistration(ctx, &wod.NewRegistration{
				Request: wod.RegistrationRequest{Workshop: a.Slug, Name: "Ann", Email: email},
				Mails:   []*wod.Mail{m},
			}); err != nil {
				t.Fatal(err)
			}
			return m
		}
		claim := func(limit int) []int64 {
			t.Helper()
			ms, err := db.ClaimMails(ctx, time.Minute, limit)
			if err != nil {
				t.Fatal(err)
			}
			ids := []int64{}
			for _, m := range ms {
				if m.State != wod.MailSending {
					t.Fatalf("claimed mail %d is %s", m.ID, m.State)
				}
				ids = append(ids, m.ID)
			}
			return ids
		}
		later := book("later@example.com", -time.Minute)
		sooner := book("sooner@example.com", -2*time.Minute)
		notYet := book("notyet@example.com", time.Hour)
		sent := book("sent@example.com", -3*time.Minute)

		if got := claim(1); fmt.Sprint(got) != fmt.Sprint([]int64{sent.ID}) {
			t.Fatalf("first claim of one: %v, want the mail due first (%d)", got, sent.ID)
		}
		if err := db.FinishMail(ctx, sent.ID, wod.MailSent, "", nil); err != nil {
			t.Fatal(err)
		}
		if got := claim(10); fmt.Sprint(got) != fmt.Sprint([]int64{sooner.ID, later.ID}) {
			t.Fatalf("claim: %v, want %d then %d", got, sooner.ID, later.ID)
		}
		if got := claim(10); len(got) != 0 {
			t.Fatalf("claim under live leases: %v", got)
		}

		// The dispatcher that took them died: their lease ends, another
		// takes them, and the not-yet-due mail once its time comes.
		clock.Advance(2 * time.Minute)
		if got := claim(10); fmt.Sprint(got) != fmt.Sprint([]int64{sooner.ID, later.ID}) {
			t.Fatalf("claim after the lease: %v, want %d then %d", got, sooner.ID, later.ID)
		}
		clock.Advance(time.Hour)
		ms, err := db.ClaimMails(ctx, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		attempts := map[int64]int{}
		for _, m := range ms {
			attempts[m.ID] = m.Attempts
		}
		if len(ms) != 3 || attempts[sooner.ID] != 3 || attempts[later.ID] != 3 || attempts[notYet.ID] != 1 {
			t.Fatalf("claim an hour later: %+v, want the two lapsed (third attempt) and the one now due", attempts)
		}
	})
}
