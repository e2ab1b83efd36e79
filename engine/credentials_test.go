package engine_test

import (
	"testing"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// TestCredentials: the login and launch links, the seat's names from the
// moment it is booked, and the password only while the session runs.
func TestCredentials(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		w := newWorld(t, db, clock)
		base := 100
		if _, err := db.UpdateLocation(w.ctx, w.loc.Name, wod.LocationUpdate{BaseStudentID: &base}); err != nil {
			t.Fatal(err)
		}
		creds := func(id int64) *wod.Credentials {
			t.Helper()
			c, err := engine.Credentials(w.ctx, db, w.keys, w.reg(id))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		r := w.register("WKSHP-A", "ann@example.com")
		want := wod.Credentials{LoginURL: "http://hub.test/hub/login",
			LaunchURL: "http://hub.test/hub/login?next=%2Fhub%2Fuser%2Fstudent1%2F", Username: "student1", StudentID: 101}
		if c := creds(r.ID); *c != want {
			t.Fatalf("pending: %+v, want %+v", c, want)
		}
		w.report(w.claim(wod.JobCreate), wod.AgentResult{OK: true, Password: "Pw-Creds-1"})
		want.Password = "Pw-Creds-1"
		if c := creds(r.ID); *c != want {
			t.Fatalf("ready: %+v, want %+v", c, want)
		}
		if pw, running, err := engine.StudentPassword(w.keys, w.reg(r.ID)); pw != "Pw-Creds-1" || !running || err != nil {
			t.Fatalf("student password: %q %v %v", pw, running, err)
		}
		if _, err := w.eng.EndNow(w.ctx, r.ID, "test"); err != nil {
			t.Fatal(err)
		}
		want.Password = ""
		if c := creds(r.ID); *c != want {
			t.Fatalf("ending: %+v, want %+v", c, want)
		}
		if pw, running, err := engine.StudentPassword(w.keys, w.reg(r.ID)); pw != "" || running || err != nil {
			t.Fatalf("student password after the end: %q %v %v", pw, running, err)
		}
		// A registration not booked yet (a welcome mail's) has no location.
		if c, err := engine.Credentials(w.ctx, db, w.keys, &wod.Registration{}); err != nil || *c != (wod.Credentials{}) {
			t.Fatalf("unbooked: %+v %v", c, err)
		}
	})
}
