package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestRehearsals(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		_, w := fixture(t, db, 10, 1, 3, 3)

		if err := db.CreateRehearsal(ctx, &wod.Rehearsal{Workshop: "WKSHP-Nope"}); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("unknown workshop: %v", err)
		}
		h := &wod.Rehearsal{Workshop: w.Slug, RequestedBy: "ops"}
		if err := db.CreateRehearsal(ctx, h); err != nil {
			t.Fatal(err)
		}
		if h.ID == 0 || h.State != wod.RehearsalRunning || h.WorkshopID != w.ID {
			t.Fatalf("created: %+v", h)
		}

		// The robot's seat: the highest free one, not counted as a participant.
		r, err := db.CreateRegistration(ctx, &wod.NewRegistration{RehearsalID: &h.ID,
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Rehearsal", Email: "rehearsal-1@rehearsal.invalid"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.StudentNumber != 3 || r.RehearsalID == nil || *r.RehearsalID != h.ID {
			t.Fatalf("robot's registration: %+v", r)
		}
		ws, err := db.FindWorkshop(ctx, w.Slug)
		if err != nil {
			t.Fatal(err)
		}
		// Its seat is taken, but it uses none of the participants' capacity.
		if ws.SeatsFree != 2 {
			t.Fatalf("seats free with the robot on one: %d", ws.SeatsFree)
		}
		// Participants still get the whole capacity's worth of the free seats.
		a, err := register(db, w.Slug, "ann@example.com")
		if err != nil || a.StudentNumber != 1 {
			t.Fatalf("participant: %+v %v", a, err)
		}
		// One seat left: a second robot would take the last one a participant needs.
		h2 := &wod.Rehearsal{Workshop: w.Slug, RequestedBy: "schedule"}
		if err := db.CreateRehearsal(ctx, h2); err != nil {
			t.Fatal(err)
		}
		_, err = db.CreateRegistration(ctx, &wod.NewRegistration{RehearsalID: &h2.ID,
			Request: wod.RegistrationRequest{Workshop: w.Slug, Name: "Rehearsal", Email: "rehearsal-2@rehearsal.invalid"}})
		if wod.ErrorCode(err) != wod.EFULL {
			t.Fatalf("second robot: %v", err)
		}

		got, err := db.FindRehearsal(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RegistrationID == nil || *got.RegistrationID != r.ID || got.Location != "local" || got.State != wod.RehearsalRunning {
			t.Fatalf("found: %+v", got)
		}

		// Progress, then the end with an alert in one transaction.
		clock.Advance(time.Minute)
		got.Notebooks = []wod.NotebookRun{{Path: w.Slug + "/1.ipynb", Kernel: "python3", Cells: []wod.CellRun{
			{Index: 0, Status: wod.CellOK, Output: "hello", Duration: time.Second},
			{Index: 2, Status: wod.CellError, EName: "ZeroDivisionError", EValue: "division by zero"},
		}}}
		if err := db.UpdateRehearsal(ctx, got); err != nil {
			t.Fatal(err)
		}
		c := 50
		got.State, got.Completion, got.Error = wod.RehearsalFailed, &c, "1 cell failed"
		alert := &wod.Mail{Kind: wod.MailAlert, To: "ops@example.com", Subject: "rehearsal failed", Text: "x"}
		if err := db.FinishRehearsal(ctx, got, alert); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateRehearsal(ctx, got); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("update after the end: %v", err)
		}
		ms, _, err := db.FindMails(ctx, wod.MailFilter{})
		if err != nil || len(ms) != 1 || ms[0].Subject != "rehearsal failed" {
			t.Fatalf("alert: %v %v", ms, err)
		}
		got, err = db.FindRehearsal(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != wod.RehearsalFailed || got.FinishedAt == nil || *got.Completion != 50 || len(got.Notebooks) != 1 ||
			got.Notebooks[0].Cells[1].EName != "ZeroDivisionError" || got.Notebooks[0].Cells[0].Duration != time.Second {
			t.Fatalf("finished: %+v", got)
		}
		if n, c := got.FirstFailure(); n == nil || c == nil || c.Index != 2 {
			t.Fatalf("first failure: %v %v", n, c)
		}

		// Listing and the latest per workshop.
		hs, err := db.FindRehearsals(ctx, w.Slug, 10)
		if err != nil || len(hs) != 2 || hs[0].ID != h2.ID {
			t.Fatalf("rehearsals: %v %v", hs, err)
		}
		last, err := db.LastRehearsals(ctx)
		if err != nil || len(last) != 1 || last[w.Slug].ID != h2.ID {
			t.Fatalf("last: %v %v", last, err)
		}

		// A runner gone (a restart): its rehearsal does not stay running.
		stale, err := db.FailStaleRehearsals(ctx, clock.Now().Add(-30*time.Second), "interrupted")
		if err != nil || len(stale) != 1 || stale[0].ID != h2.ID || stale[0].State != wod.RehearsalFailed ||
			stale[0].Error != "interrupted" {
			t.Fatalf("stale: %v %v", stale, err)
		}
		// Registrations by hour: the participant's at 09:00, not the robot's.
		hours, err := db.RegistrationHours(ctx, t0.Add(-time.Hour))
		if err != nil || hours[9] != 1 || hours[10] != 0 {
			t.Fatalf("hours: %v %v", hours, err)
		}
		// A rehearsal that got no seat leaves nothing; one with a seat stays.
		h3 := &wod.Rehearsal{Workshop: w.Slug}
		if err := db.CreateRehearsal(ctx, h3); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRehearsal(ctx, h3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindRehearsal(ctx, h3.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
			t.Fatalf("deleted: %v", err)
		}
		if err := db.DeleteRehearsal(ctx, h.ID); wod.ErrorCode(err) != wod.ECONFLICT {
			t.Fatalf("delete a finished one: %v", err)
		}
		if again, err := db.FailStaleRehearsals(ctx, clock.Now().Add(time.Hour), "again"); err != nil || len(again) != 0 {
			t.Fatalf("stale again: %v %v", again, err)
		}
	})
}
