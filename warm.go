package wod

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The warm pool: per workshop, the agent keeps seats prepared before anyone
// registers, so that a registration is a database transition (credentials
// at once, the clock starts, the server is up).
//
// A warm seat is made without a participant, and that is sound because
// nothing a seat is made of depends on its participant: the notebooks'
// variables are the seat's (STDID, PASSSTU, the per-seat ports, MODEWS,
// branding and the configured variables, see content.BuildVars), the hooks
// get the seat's number, password and appliance (agent.HookEnv), and the
// create job's Participant is informational (no operation uses it). Should
// a variable of the participant ever reach the content, the warm job (which
// has none to give) would render without it, so it must then be refused
// for warm workshops.

// WarmPool is a workshop's warm setting: a number of seats, or WarmAuto.
// It reads and writes as a number or the string "auto".
type WarmPool int

// WarmAuto sizes the pool from the arrivals of the last hour (WarmTarget).
const WarmAuto WarmPool = -1

// MaxWarm bounds a workshop's pool.
const MaxWarm = 1000

// WarmRecycleAfter is how long a warm seat waits for a participant before
// it is made again (password rotated, notebooks rendered anew).
const WarmRecycleAfter = 24 * time.Hour

// ParseWarmPool reads "auto" or a number.
func ParseWarmPool(s string) (WarmPool, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "auto") {
		return WarmAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxWarm {
		return 0, fmt.Errorf("warm must be auto or a number of seats from 0 to %d, not %q", MaxWarm, s)
	}
	return WarmPool(n), nil
}

// String is "auto" or the number.
func (p WarmPool) String() string {
	if p == WarmAuto {
		return "auto"
	}
	return strconv.Itoa(int(p))
}

// MarshalJSON writes a number, or "auto".
func (p WarmPool) MarshalJSON() ([]byte, error) {
	if p == WarmAuto {
		return []byte(`"auto"`), nil
	}
	return []byte(strconv.Itoa(int(p))), nil
}

// UnmarshalJSON reads a number or "auto".
func (p *WarmPool) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	switch x := v.(type) {
	case float64:
		*p, err = ParseWarmPool(strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		*p, err = ParseWarmPool(x)
	default:
		err = fmt.Errorf("warm must be auto or a number of seats")
	}
	return err
}

// WarmTarget is how many warm seats a workshop should have now. The rule
// for auto: a quarter of an hour of arrivals at the last hour's rate
// (ceil(arrivals/4)), at least one while the workshop is active (so that
// the next participant is instant) — a crowd that came in the last hour is
// likely to keep coming, and a pool warms in seconds, so a quarter hour's
// worth covers a rush without holding seats idle. Either way the pool never
// exceeds the seats the workshop could still give (capacity less the seats
// held) nor the seats of its range that are free or warm for it, less one:
// one seat always stays free for a cold create (a participant arriving
// while the pool refills, another workshop sharing the range, a rehearsal).
func WarmTarget(setting WarmPool, active bool, arrivalsLastHour, capacityLeft, freeOrWarm int) int {
	if !active {
		return 0
	}
	want := int(setting)
	if setting == WarmAuto {
		want = max(1, (arrivalsLastHour+3)/4)
	}
	return max(0, min(want, capacityLeft, freeOrWarm-1))
}

// WarmArgs are a warm job's arguments: the seat and the workshop it is
// made for, and the content version it is made from.
type WarmArgs struct {
	SeatID         int64  `json:"seat_id"`
	Workshop       string `json:"workshop"`
	Location       string `json:"location"`
	ContentVersion string `json:"content_version"`
}

// WarmPoolState is one workshop's pool at one of its locations, as the
// keeper sees it. Each location of a workshop keeps its own pool of up to
// Warm seats (its agent prepares them), bounded by the free seats of the
// workshop's range there and by the workshop's capacity left.
type WarmPoolState struct {
	WorkshopID int64  `json:"workshop_id"`
	Workshop   string `json:"workshop"`
	LocationID int64  `json:"location_id"`
	Location   string `json:"location"`
	// SeatMin..SeatMax is the workshop's range at the location.
	SeatMin int      `json:"seat_min"`
	SeatMax int      `json:"seat_max"`
	Setting WarmPool `json:"setting"`
	Active  bool     `json:"active"`
	// Version is the workshop's content version.
	Version string `json:"-"`
	Warm    int    `json:"warm"`
	Warming int    `json:"warming"`
	// Stale counts the warm seats to rebuild: made from another content
	// version, or warm longer than WarmRecycleAfter (or to give back: no
	// longer in the workshop's range).
	Stale int `json:"stale"`
	// CapacityLeft is capacity less the seats held by participants;
	// Free the free seats of the range.
	CapacityLeft int `json:"capacity_left"`
	Free         int `json:"free"`
	// Arrivals counts the registrations of the last hour.
	Arrivals int `json:"arrivals"`
	// Target is what the keeper aims at (WarmTarget).
	Target int `json:"target"`
}
