package wod

import (
	"fmt"
	"strings"
	"time"
)

// Workshop dates. A workshop may open for registration at a time (Opens)
// and close at another (Closes); either may be unset. The rule, kept once
// in the store's booking transaction so that the portal, the API, the
// legacy routes and LTI launches all obey it:
//
//   - Before Opens, nobody books and nobody joins the waiting line: the
//     catalogue shows when the workshop opens. Rehearsals are not bound by
//     the dates (operators rehearse before the doors open).
//   - From Closes on, nobody books and nobody joins the line, and the
//     workshop leaves the catalogue. Sessions already running are not cut:
//     Closes ends registration, not the workshop's sessions.
//   - A waiter's wait ends at the earlier of --wait-max after joining and
//     Closes (WaitDeadline): whoever still waits when the workshop closes
//     leaves the line with the wait-expired mail, which says it closed.
//     A seat that frees after Closes is not handed to anyone.

// DateLayout is how the dates are written in wod.yml, the API and the
// admin page: RFC 3339 with the zone.
const DateLayout = time.RFC3339

// ParseWorkshopDate reads an opening or closing time: RFC 3339 with its
// zone (2026-12-10T09:00:00Z, 2026-12-10T10:00:00+01:00). An empty string
// is no date (the zero time). The result is UTC, to the second.
func ParseWorkshopDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 with the zone, such as 2026-12-10T09:00:00Z "+
			"or 2026-12-10T10:00:00+01:00", s)
	}
	return NormalizeDate(t), nil
}

// NormalizeDate makes a date UTC and whole seconds, as the store keeps it,
// so that a date read back equals the one written (re-imports compare them).
func NormalizeDate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

// FormatWorkshopDate writes a date as the API and wod.yml read it; no date
// is the empty string.
func FormatWorkshopDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DateLayout)
}

// validateDates checks that a workshop closes after it opens.
func (w *Workshop) validateDates(v *Validation) {
	v.Check(w.Opens.IsZero() || w.Closes.IsZero() || w.Closes.After(w.Opens),
		"closes", "must be after opens (%s)", FormatWorkshopDate(w.Opens))
}

// Upcoming reports whether the workshop has not opened yet at now.
func (w *Workshop) Upcoming(now time.Time) bool {
	return !w.Opens.IsZero() && now.Before(w.Opens)
}

// Closed reports whether the workshop's closing time has passed at now.
func (w *Workshop) Closed(now time.Time) bool {
	return !w.Closes.IsZero() && !now.Before(w.Closes)
}

// Bookable reports whether the workshop takes registrations at now: active
// and within its dates (full or not).
func (w *Workshop) Bookable(now time.Time) bool {
	return w.Active && !w.Upcoming(now) && !w.Closed(now)
}

// CheckDates refuses a booking outside the workshop's dates, in the words
// (and the code) of the refusal of an inactive workshop: an EINVALID error
// on the field "workshop". Zero dates are no bound.
func CheckDates(slug string, opens, closes, now time.Time) error {
	w := Workshop{Opens: opens, Closes: closes}
	var msg string
	switch {
	case w.Upcoming(now):
		msg = fmt.Sprintf("workshop %s opens for registration at %s", slug, FormatWorkshopDate(opens))
	case w.Closed(now):
		msg = fmt.Sprintf("workshop %s closed for registration at %s", slug, FormatWorkshopDate(closes))
	default:
		return nil
	}
	return &Error{Code: EINVALID, Message: "the registration is not valid",
		Fields: []FieldError{{Field: "workshop", Message: msg}}}
}

// WaitDeadline is when a wait that would end at due (its --wait-max) ends
// for a workshop closing at closes: the earlier of the two.
func WaitDeadline(due, closes time.Time) time.Time {
	if !closes.IsZero() && closes.Before(due) {
		return closes
	}
	return due
}
