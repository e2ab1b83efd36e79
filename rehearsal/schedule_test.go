package rehearsal_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/rehearsal"
)

// TestDue: every active workshop not rehearsed within the period, one per
// location, none at a location where a rehearsal runs.
func TestDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	ws := []*wod.Workshop{
		{Slug: "A", LocationID: 1, Active: true},
		{Slug: "B", LocationID: 1, Active: true},
		{Slug: "C", LocationID: 2, Active: true},
		{Slug: "D", LocationID: 2, Active: true},
		{Slug: "E", LocationID: 3, Active: false},
		{Slug: "F", LocationID: 4, Active: true},
		{Slug: "G", LocationID: 4, Active: true},
	}
	last := map[string]*wod.Rehearsal{
		"A": {State: wod.RehearsalPassed, CreatedAt: now.Add(-time.Hour)},       // recent
		"C": {State: wod.RehearsalRunning, CreatedAt: now.Add(-48 * time.Hour)}, // location 2 busy
		"F": {State: wod.RehearsalFailed, CreatedAt: now.Add(-25 * time.Hour)},  // due
	}
	var got []string
	for _, w := range rehearsal.Due(ws, last, 24*time.Hour, now) {
		got = append(got, w.Slug)
	}
	if !slices.Equal(got, []string{"B", "F"}) {
		t.Fatalf("due: %v", got)
	}
}
