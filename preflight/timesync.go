package preflight

import (
	"os"
	"slices"
	"strconv"
	"strings"
)

// The kernel's clock discipline: the adjtimex state and status bit that
// say the clock is not synchronised (<linux/timex.h>).
const (
	timeError = 5      // TIME_ERROR
	staUnsync = 0x0040 // STA_UNSYNC
)

// ntpClients are the daemons that keep a clock synchronised.
var ntpClients = []string{"chronyd", "ntpd", "systemd-timesyn", "openntpd", "ntpdate", "timesyncd"}

// checkTimeSync asks the kernel whether its clock is synchronised (what
// timedatectl reports as "System clock synchronized"), and which NTP
// client runs: mails, session ends, webhook timestamps (receivers refuse
// five minutes' skew) and LTI tokens all go by the clock.
func (c *Checker) checkTimeSync(add addCheck) {
	state, status, maxErr, err := c.Host.adjtimex()
	client := c.runningNTPClient()
	st, detail := timeSyncVerdict(state, status, maxErr, err, client)
	add("time sync", st, "%s", detail)
}

// runningNTPClient is the name of a running NTP daemon, or "".
func (c *Checker) runningNTPClient() string {
	dirs, err := os.ReadDir(c.Host.path("/proc"))
	if err != nil {
		return ""
	}
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := c.Host.read("/proc/" + d.Name() + "/comm")
		if err == nil && slices.Contains(ntpClients, strings.TrimSpace(string(b))) {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// timeSyncVerdict judges the kernel's clock discipline: synchronised is
// OK; unsynchronised is a warning (a container's clock is its host's, which
// the kernel may not know synchronised), worded by whether a client runs.
func timeSyncVerdict(state int, status int32, maxErrorUS int64, err error, client string) (Status, string) {
	if err != nil {
		return Warn, "cannot read the clock's synchronisation (adjtimex): " + err.Error()
	}
	by := ""
	if client != "" {
		by = " by " + client
	}
	if state != timeError && status&staUnsync == 0 {
		return OK, "the clock is synchronised" + by + " (estimated error " + formatUS(maxErrorUS) + ")"
	}
	if client != "" {
		return Warn, "the clock is not synchronised yet; " + client + " runs: see chronyc tracking or timedatectl timesync-status"
	}
	return Warn, "the clock is not synchronised and no NTP client runs (apt-get install chrony, or systemd-timesyncd): " +
		"session ends, mails' dates and webhook signatures go by this clock"
}

func formatUS(us int64) string {
	switch {
	case us < 1000:
		return itoa(us) + " µs"
	case us < 1_000_000:
		return itoa(us/1000) + " ms"
	}
	return itoa(us/1_000_000) + " s"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
