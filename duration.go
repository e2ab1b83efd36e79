package wod

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes the way people and
// content write durations: a Go duration string ("90s", "2h30m") or a plain
// number of hours (the original's wod.yml `duration: 4`).
type Duration time.Duration

// ParseDuration reads "4", "2.5", "90s" or "2h30m". A bare number is hours.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if h, err := strconv.ParseFloat(s, 64); err == nil {
		return hoursDuration(h)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number of hours nor a duration such as 90s or 2h30m", s)
	}
	return Duration(d), nil
}

func hoursDuration(h float64) (Duration, error) {
	if h < 0 || h > 24*366 {
		return 0, fmt.Errorf("%v hours is out of range", h)
	}
	return Duration(time.Duration(h * float64(time.Hour))), nil
}

// String formats the duration as Go does, without trailing zero units ("2h", "90s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "2h".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts a duration string or a number of hours.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var err error
	switch x := v.(type) {
	case float64:
		*d, err = hoursDuration(x)
	case string:
		*d, err = ParseDuration(x)
	default:
		err = fmt.Errorf("duration must be a string such as \"2h\" or a number of hours")
	}
	return err
}
