package apidbimport_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/legacy/apidbimport"
	"github.com/wod-dev/wod/legacy/apidbimport/originaltest"
	"github.com/wod-dev/wod/login"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestImportLegacy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		ctx := context.Background()
		dsn, password := originaltest.Original(t, clock.Now())
		// WKSHP-API101 was imported from content before; the original's
		// settings land on it.
		// be2 was set up in wod already, as the original has it.
		pre := &wod.Location{Name: "be2.example.org", HubURL: "http://be2.example.org:8000", BaseStudentID: 3, Students: 3}
		if err := db.CreateLocation(ctx, pre); err != nil {
			t.Fatal(err)
		}
		content := &wod.Workshop{Slug: "WKSHP-API101", Title: "API 101 (content)", Duration: wod.Duration(time.Hour),
			Capacity: 10, SeatMin: 1, SeatMax: 1, LocationID: pre.ID, Appliance: wod.ApplianceNone, SessionType: wod.SessionWorkshop}
		if err := db.CreateWorkshop(ctx, content); err != nil {
			t.Fatal(err)
		}
		opt := apidbimport.Options{Now: clock.Now()}

		dry, err := apidbimport.Import(ctx, dsn, db, apidbimport.Options{Now: clock.Now(), DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if ls, _ := db.FindLocations(ctx); len(ls) != 1 {
			t.Fatalf("the dry run created locations: %v", ls)
		}
		if !strings.Contains(strings.Join(dry.Done, "\n"), "would create location be1.example.org") {
			t.Errorf("the dry run does not say what it would do: %q", dry.Done)
		}

		rep, err := apidbimport.Import(ctx, dsn, db, opt)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		rep.Print(&out)
		t.Log(out.String())
		if rep.Live != 2 {
			t.Errorf("live customers: %d, want 2 (Eve, Fay)", rep.Live)
		}
		for _, want := range []string{`location 3 "be3.example.org": no basestdid`,
			`workshop 3 "Orphan": its location "gone.example.org" is missing`, `workshop 3 "Orphan": no content and no location`,
			"customer 4: no valid student id (null)", `customer 8: its workshop "Vanished Workshop"`,
			"special badge 6 \"Mystery\"", "student 1: assigned on the original with no live customer", `user 3 "someone": neither admin nor moderator`, `user 4 "nopass": no bcrypt password`} {
			if !strings.Contains(strings.Join(rep.Unmapped, "\n"), want) {
				t.Errorf("the report lacks %q:\n%s", want, out.String())
			}
		}

		be2, err := db.FindLocation(ctx, "be2.example.org")
		if err != nil {
			t.Fatal(err)
		}
		if be2.BaseStudentID != 3 || be2.Students != 3 || be2.HubURL != "http://be2.example.org:8000" {
			t.Errorf("be2: %+v", be2)
		}
		api, err := db.FindWorkshop(ctx, "WKSHP-API101")
		if err != nil {
			t.Fatal(err)
		}
		if !api.Active || api.Capacity != 3 || api.SeatMin != 1 || api.SeatMax != 3 || api.Location != "be2.example.org" ||
			!api.Reset || !api.LDAP || !api.VarPass || !api.Beta || api.Appliance != wod.ApplianceMono ||
			api.SessionType != wod.SessionChallenge || strings.Join(api.Compile, ",") != "setup.sh,run.sh" ||
			api.Title != "API 101 (content)" {
			t.Errorf("WKSHP-API101 after the import: %+v", api)
		}
		py, err := db.FindWorkshop(ctx, "WKSHP-Python101")
		if err != nil {
			t.Fatal(err)
		}
		// Capacity 1 left plus the two live customers' seats; no content: inactive.
		if py.Active || py.Capacity != 3 || len(py.Compile) != 0 || py.Location != "be1.example.org" {
			t.Errorf("WKSHP-Python101 after the import: %+v", py)
		}

		regs, n, err := db.FindRegistrations(ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Fatalf("%d registrations imported, want 5 (Ann twice, Bob, Cy, Dee)", n)
		}
		byEmail := map[string][]*wod.Registration{}
		for _, r := range regs {
			byEmail[r.Email] = append(byEmail[r.Email], r)
		}
		if len(byEmail["ann@example.org"]) != 2 {
			t.Errorf("Ann's registrations: %d (her address differs only in case)", len(byEmail["ann@example.org"]))
		}
		if b := byEmail["bob@example.org"]; len(b) != 1 || b[0].State != wod.StateFailed || b[0].StudentNumber != 3 {
			t.Errorf("Bob: %+v", b)
		}
		for _, r := range byEmail["ann@example.org"] {
			if r.Workshop == "WKSHP-Python101" && (r.State != wod.StateDone || r.Completion == nil || *r.Completion != 80 ||
				r.StudentNumber != 1 || r.Location != "be2.example.org" || r.EndsAt == nil) {
				t.Errorf("Ann's Python 101: %+v", r)
			}
		}
		if lvl, err := db.BadgeLevel(ctx, "ann@example.org"); err != nil || lvl != 1 {
			t.Errorf("Ann's badge level: %d, %v; want 1 (Apprentice)", lvl, err)
		}
		stats, err := db.WorkshopStats(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stats {
			if s.Slug == "WKSHP-API101" && (s.Registrations != 2 || s.Failed != 1) {
				t.Errorf("WKSHP-API101's statistics: %+v", s)
			}
		}

		// A second run changes nothing.
		again, err := apidbimport.Import(ctx, dsn, db, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Done) != 0 || again.Skipped == 0 {
			t.Errorf("the second run did %q (skipped %d)", again.Done, again.Skipped)
		}
		if _, n2, _ := db.FindRegistrations(ctx, wod.RegistrationFilter{Page: wod.Page{Limit: 100}}); n2 != n {
			t.Errorf("registrations after a second run: %d, want %d", n2, n)
		}

		// --live takes Eve over on her seat; Fay, not running yet, stays.
		keys, err := secret.LoadOrCreateKeys(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		liveOpt := apidbimport.Options{Now: clock.Now(), Live: true, Encrypt: keys.Encrypt}
		lrep, err := apidbimport.Import(ctx, dsn, db, liveOpt)
		if err != nil {
			t.Fatal(err)
		}
		if lrep.Live != 1 || len(lrep.Done) != 1 || !strings.Contains(lrep.Done[0], "take over live customer 6 (eve@example.org)") {
			t.Errorf("the --live run: live %d, did %q, unmapped %q", lrep.Live, lrep.Done, lrep.Unmapped)
		}
		eve, _, err := db.FindRegistrations(ctx, wod.RegistrationFilter{Email: ptr("eve@example.org"), Page: wod.Page{Limit: 10}})
		if err != nil || len(eve) != 1 {
			t.Fatalf("Eve: %v %v", eve, err)
		}
		if e := eve[0]; e.State != wod.StateReady || e.SeatID == nil || e.StudentNumber != 2 || e.Location != "be1.example.org" ||
			e.EndsAt == nil || !e.EndsAt.Equal(clock.Now().Add(2*time.Hour)) {
			t.Errorf("Eve taken over: %+v", e)
		}
		if pw, err := keys.Decrypt(eve[0].PasswordEnc); err != nil || pw != "Eves-Password" {
			t.Errorf("Eve's password: %q, %v", pw, err)
		}
		seats, _, err := db.FindSeats(ctx, wod.SeatFilter{State: ptr(wod.SeatAssigned), Page: wod.Page{Limit: 10}})
		if err != nil || len(seats) != 1 || seats[0].Number != 2 || seats[0].Location != "be1.example.org" {
			t.Errorf("assigned seats: %+v, %v", seats, err)
		}
		if lrep, err = apidbimport.Import(ctx, dsn, db, liveOpt); err != nil || len(lrep.Done) != 0 {
			t.Errorf("a second --live run: did %q, %v", lrep.Done, err)
		}

		// The admin logs in with the original's password; the hash
		// becomes argon2id.
		g := &login.Guard{Users: db, Sessions: db, Events: db, Clock: clock, SessionTTL: time.Hour,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Passwords: secret.CheapHasher()}
		if _, err := g.Login(ctx, "192.0.2.1", "hackshack", "wrong password"); wod.ErrorCode(err) != wod.EUNAUTHORIZED {
			t.Fatalf("a wrong password: %v", err)
		}
		s, err := g.Login(ctx, "192.0.2.1", "hackshack", password)
		if err != nil {
			t.Fatalf("the imported admin's login: %v", err)
		}
		if s.User.Role != wod.RoleAdmin {
			t.Errorf("hackshack's role: %s", s.User.Role)
		}
		u, err := db.FindUserByName(ctx, "hackshack")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("the hash after the first login: %.10s…", u.PasswordHash)
		}
		if _, err := g.Login(ctx, "192.0.2.1", "hackshack", password); err != nil {
			t.Errorf("the second login, with the argon2id hash: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
