package store

import (
	"strings"
	"testing"

	"github.com/wod-dev/wod"
)

// TestStateListsMatchTheDomain keeps the SQL spelling of "live" and
// "holding a seat" equal to the domain's: one rule, written twice only
// because SQL constants cannot be computed.
func TestStateListsMatchTheDomain(t *testing.T) {
	t.Parallel()
	list := func(states ...wod.RegistrationState) string {
		quoted := make([]string, len(states))
		for i, s := range states {
			quoted[i] = "'" + string(s) + "'"
		}
		return "(" + strings.Join(quoted, ", ") + ")"
	}
	if want := list(wod.LiveStates...); liveSQL != want {
		t.Errorf("liveSQL = %s, want %s (wod.LiveStates)", liveSQL, want)
	}
	if want := list(wod.SeatStates...); holdingSQL != want {
		t.Errorf("holdingSQL = %s, want %s (wod.SeatStates)", holdingSQL, want)
	}
	// A waiter holds the address, never a seat.
	if !wod.StateWaiting.Live() || strings.Contains(holdingSQL, "'waiting'") {
		t.Errorf("waiting must be live (LiveStates) and hold no seat (holdingSQL = %s)", holdingSQL)
	}
}
