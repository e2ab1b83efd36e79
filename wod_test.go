package wod_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
)

func TestValidEmail(t *testing.T) {
	for addr, want := range map[string]bool{
		"ann@example.com": true, "a.b+tag@sub.example.org": true,
		"": false, "ann": false, "ann@": false, "@example.com": false, "ann@example": false,
		"Ann <ann@example.com>": false, "ann@@example.com": false, "ann@example..com": false,
		"ann@.example.com": false, "ann smith@example.com": false, "ann@example.com.": false,
	} {
		if got := wod.ValidEmail(addr); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"4": 4 * time.Hour, "2.5": 150 * time.Minute, "90s": 90 * time.Second, "2h30m": 150 * time.Minute} {
		d, err := wod.ParseDuration(in)
		if err != nil || d.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-3", "1e9"} {
		if _, err := wod.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	var d wod.Duration
	if err := json.Unmarshal([]byte(`2`), &d); err != nil || d.Std() != 2*time.Hour {
		t.Fatalf("JSON hours: %v %v", d, err)
	}
	if b, _ := json.Marshal(wod.Duration(2 * time.Hour)); string(b) != `"2h"` {
		t.Fatalf("JSON out: %s", b)
	}
	if wod.Duration(90*time.Second).String() != "1m30s" || wod.Duration(time.Hour+time.Minute).String() != "1h1m" {
		t.Fatal("String trims zero units only at the end")
	}
}

func TestWorkshopApplyAndMerge(t *testing.T) {
	w := &wod.Workshop{Slug: "WKSHP-A", Title: "A", Capacity: 5, Active: false}
	title, capacity, active := "A", 7, true
	changed := w.Apply(wod.WorkshopUpdate{Title: &title, Capacity: &capacity, Active: &active})
	if !slices.Equal(changed, []string{"capacity", "active"}) || w.Capacity != 7 || !w.Active {
		t.Fatalf("Apply changed %v: %+v", changed, w)
	}
	if got := (wod.WorkshopUpdate{Title: &title, Capacity: &capacity}).UpdatedFields(); !slices.Equal(got, []string{"title", "capacity"}) {
		t.Fatalf("UpdatedFields = %v", got)
	}
	w.Overrides = []string{"capacity"}
	imported := &wod.Workshop{Slug: "WKSHP-A", Title: "A2", Capacity: 20, Categories: []string{}}
	changed, kept := w.Merge(imported)
	if !slices.Equal(changed, []string{"title", "active"}) || !slices.Equal(kept, []string{"capacity"}) ||
		w.Title != "A2" || w.Capacity != 7 || w.Active {
		t.Fatalf("Merge changed %v kept %v: %+v", changed, kept, w)
	}
}

func TestValidation(t *testing.T) {
	w := &wod.Workshop{Slug: "bad slug!", SeatMin: 0, SeatMax: -1, Appliance: "x", SessionType: "y"}
	err := w.Validate()
	var fields []string
	for _, f := range err.(*wod.Error).Fields {
		fields = append(fields, f.Field)
	}
	for _, want := range []string{"slug", "title", "duration", "seat_min", "seat_max", "appliance", "session_type"} {
		if !slices.Contains(fields, want) {
			t.Errorf("Validate does not report %s: %v", want, fields)
		}
	}
	if wod.ErrorCode(err) != wod.EINVALID || wod.ErrorCode(nil) != "" || wod.ErrorMessage(errPlain{}) != "internal error" {
		t.Fatal("error codes")
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "secret detail" }

func TestRolesAndBadges(t *testing.T) {
	if !wod.RoleAdmin.Allows(wod.RoleModerator) || wod.RoleModerator.Allows(wod.RoleAdmin) || wod.Role("").Allows(wod.RoleModerator) {
		t.Fatal("role order")
	}
	for n, want := range map[int]string{0: "", 2: "", 3: "Apprentice", 6: "Expert", 7: "Hero", 14: "Super Hero", 15: "Legend", 99: "Legend"} {
		b := wod.BadgeFor(n)
		if (b == nil && want != "") || (b != nil && b.Name != want) {
			t.Errorf("BadgeFor(%d) = %v, want %q", n, b, want)
		}
	}
}

// ReportPassword is for the legacy bridge, in-process: a job from a wod
// server never asks a cleanup for the seat's password, whatever it sends.
func TestReportPasswordNeverTravels(t *testing.T) {
	b, err := json.Marshal(wod.AgentJob{ID: 1, Kind: wod.JobCleanup, ReportPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), "report") {
		t.Errorf("ReportPassword on the wire: %s", b)
	}
	var back wod.AgentJob
	if err := json.Unmarshal([]byte(`{"id":1,"kind":"cleanup","ReportPassword":true,"report_password":true}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.ReportPassword {
		t.Error("a job decoded from the wire asks for the password")
	}
}

// TestEveryStateIsLiveFinalOrEnding: a registration is the participant's
// (live), over (final), or being cleaned up (ending), never two of them.
func TestEveryStateIsLiveFinalOrEnding(t *testing.T) {
	all := []wod.RegistrationState{wod.StatePending, wod.StateReady, wod.StateExpiring, wod.StateEnding,
		wod.StateDone, wod.StateFailed, wod.StateWaiting, wod.StateLeft}
	for _, s := range all {
		if !s.Valid() {
			t.Errorf("%s is not valid", s)
		}
		n := 0
		for _, in := range []bool{s.Live(), s.Final(), s == wod.StateEnding} {
			if in {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: live %v, final %v, ending %v; want exactly one", s, s.Live(), s.Final(), s == wod.StateEnding)
		}
	}
}

func TestFieldErrorSentence(t *testing.T) {
	for _, c := range []struct {
		f    wod.FieldError
		want string
	}{
		{wod.FieldError{Field: "email", Message: "must be an address"}, "email must be an address"},
		{wod.FieldError{Field: "workshop", Message: "workshop X opens for registration at 2026-12-10 09:00 UTC"},
			"workshop X opens for registration at 2026-12-10 09:00 UTC"},
		{wod.FieldError{Field: "workshop", Message: "workshops_x is odd"}, "workshop workshops_x is odd"},
	} {
		if got := c.f.Sentence(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}
