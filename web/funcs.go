package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"utc":      utc,
	"iso":      iso,
	"hours":    hours,
	"since":    since,
	"truncate": truncate,
	"stateLabel": func(s wod.RegistrationState) string {
		return stateLabels[s]
	},
	"httpURL": func(s string) bool {
		return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
	},
	"add":  func(a, b int) int { return a + b },
	"join": strings.Join,
	"pct": func(n, of int) int {
		if of <= 0 {
			return 0
		}
		return n * 100 / of
	},
}

// stateLabels say what a state means to a participant.
var stateLabels = map[wod.RegistrationState]string{
	wod.StatePending:  "preparing",
	wod.StateReady:    "ready",
	wod.StateExpiring: "ending soon",
	wod.StateEnding:   "ending",
	wod.StateDone:     "done",
	wod.StateFailed:   "failed",
	wod.StateWaiting:  "waiting for a seat",
	wod.StateLeft:     "left the line",
}

func deref(t any) (time.Time, bool) {
	switch v := t.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v == nil {
			return time.Time{}, false
		}
		return *v, !v.IsZero()
	}
	return time.Time{}, false
}

func utc(t any) string {
	if v, ok := deref(t); ok {
		return v.UTC().Format("Mon 2 Jan 15:04 UTC")
	}
	return ""
}

func iso(t any) string {
	if v, ok := deref(t); ok {
		return v.UTC().Format(time.RFC3339)
	}
	return ""
}

// hours says a workshop's length the way people do: "2 h", "1 h 30 min", "90 s".
func hours(d wod.Duration) string {
	std := d.Std()
	switch {
	case std < time.Minute:
		return fmt.Sprintf("%d s", int(std.Seconds()))
	case std < time.Hour:
		return fmt.Sprintf("%d min", int(std.Minutes()))
	case std%time.Hour == 0:
		return fmt.Sprintf("%d h", int(std.Hours()))
	}
	return fmt.Sprintf("%d h %d min", int(std.Hours()), int((std % time.Hour).Minutes()))
}

// since says how long ago t was, coarsely.
func since(now time.Time, t any) string {
	v, ok := deref(t)
	if !ok {
		return "never"
	}
	d := now.Sub(v)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

func itoa(n int) string { return strconv.Itoa(n) }
