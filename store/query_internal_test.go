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
	var holding []wod.RegistrationState
	for _, s := range []wod.RegistrationState{wod.StatePending, wod.StateReady, wod.StateExpiring, wod.StateEnding,
		wod.StateDone, wod.StateFailed} {
		if s.Live() || s == wod.StateEnding {
			holding = append(holding, s)
		}
	}
	if want := list(holding...); holdingSQL != want {
		t.Errorf("holdingSQL = %s, want %s (the live states and ending)", holdingSQL, want)
	}
}
