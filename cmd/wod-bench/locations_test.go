package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wod-dev/wod/store/storetest"
)

// TestLocationsMode runs -mode locations at a tiny scale so that it cannot
// rot: 20 participants over 2 locations book through two real replicas,
// agents on the HTTP protocol make them ready, they end, and everything is
// cleaned up without an error; then again with two workshops each offered
// at both locations, and once more as a morning rush (ends held until all
// are ready). On PostgreSQL when WOD_TEST_POSTGRES is set
// (the run makes and drops its own database there), else on SQLite.
func TestLocationsMode(t *testing.T) {
	o := locationsOptions{DB: os.Getenv(storetest.PostgresEnv), Participants: 20, Locations: 2, Replicas: 2,
		Concurrency: 4, Workers: 2, Heartbeat: time.Second, Timeout: 2 * time.Minute}
	res, err := benchLocations(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Booked != 20 || res.Ready != 20 || res.Done != 20 || res.Errors != 0 {
		t.Fatalf("booked %d, ready %d, done %d of 20, errors %v", res.Booked, res.Ready, res.Done, res.ErrorKinds)
	}
	// One create and one cleanup per participant, each claimed once.
	if res.Claims != 40 || res.Workshops != 2 || res.Heartbeats < 2 {
		t.Fatalf("%d claims (want 40), %d workshops (want 2), %d heartbeats", res.Claims, res.Workshops, res.Heartbeats)
	}
	// Two workshops, each at both locations: placement spreads them.
	o.Workshops = 2
	if res, err = benchLocations(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Booked != 20 || res.Done != 20 || res.Errors != 0 || res.Workshops != 2 || res.Claims != 40 {
		t.Fatalf("-workshops 2: booked %d, done %d of 20, %d claims, %d workshops, errors %v",
			res.Booked, res.Done, res.Claims, res.Workshops, res.ErrorKinds)
	}
	// A morning rush: nobody ends before everyone is ready, then all end.
	o.Workshops, o.EndAfterRush = 0, true
	if res, err = benchLocations(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Booked != 20 || res.Ready != 20 || res.Done != 20 || res.Errors != 0 || res.Ends != "after the rush" ||
		res.EndSeconds <= 0 || res.EndsPerS <= 0 || res.AllReadySeconds <= 0 ||
		res.AllReadySeconds+res.EndSeconds > res.TotalSeconds+0.001 {
		t.Fatalf("-end-after-rush: %+v", res)
	}
}
