package wod_test

import (
	"testing"

	"github.com/wod-dev/wod"
)

func TestLocationURLs(t *testing.T) {
	for hub, want := range map[string][2]string{
		"http://hub.test":            {"http://hub.test/hub/login", "http://hub.test/hub/login?next=%2Fhub%2Fuser%2Fstudent7%2F"},
		"http://hub.test/":           {"http://hub.test/hub/login", "http://hub.test/hub/login?next=%2Fhub%2Fuser%2Fstudent7%2F"},
		" https://h.test/jupyter// ": {"https://h.test/jupyter/hub/login", "https://h.test/jupyter/hub/login?next=%2Fhub%2Fuser%2Fstudent7%2F"},
		"":                           {"", ""},
	} {
		l := &wod.Location{HubURL: hub}
		if got := l.LoginURL(); got != want[0] {
			t.Errorf("LoginURL of %q = %q, want %q", hub, got, want[0])
		}
		if got := l.LaunchURL("student7"); got != want[1] {
			t.Errorf("LaunchURL of %q = %q, want %q", hub, got, want[1])
		}
		if got := l.LaunchURL(""); got != "" {
			t.Errorf("LaunchURL of %q without a user = %q", hub, got)
		}
		l.Normalize()
		if got := l.LoginURL(); got != want[0] || (hub != "" && l.HubURL+"/hub/login" != got) {
			t.Errorf("normalized %q to %q: login %q", hub, l.HubURL, got)
		}
	}
	if got := (&wod.Location{BaseStudentID: 100}).StudentID(3); got != 103 {
		t.Errorf("StudentID = %d, want 103", got)
	}
}

func TestRegistrationStates(t *testing.T) {
	for s, want := range map[wod.RegistrationState][2]bool{
		wod.StatePending: {true, false}, wod.StateReady: {true, true}, wod.StateExpiring: {true, true},
		wod.StateEnding: {false, false}, wod.StateDone: {false, false}, wod.StateFailed: {false, false},
	} {
		if s.Live() != want[0] || s.Running() != want[1] {
			t.Errorf("%s: live %v running %v, want %v", s, s.Live(), s.Running(), want)
		}
	}
}

func TestLocationHasKernel(t *testing.T) {
	var l wod.Location
	if has, known := l.HasKernel("bash"); has || known {
		t.Errorf("never reported: %v %v, want unknown", has, known)
	}
	l.Kernels = []string{"bash", "python3"}
	if has, known := l.HasKernel("Bash"); !has || !known {
		t.Errorf("bash: %v %v", has, known)
	}
	if has, known := l.HasKernel("gophernotes"); has || !known {
		t.Errorf("gophernotes: %v %v, want missing", has, known)
	}
}

func TestLegacyLocationValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		l    wod.Location
		ok   bool
		addr string
	}{
		{"agent by default", wod.Location{Name: "a", Students: 1}, true, ""},
		{"legacy with its address", wod.Location{Name: "a", Students: 1, Kind: wod.LocationLegacy, BackendEmail: "wod@be.example"}, true, "be.example:10025"},
		{"legacy with its Postfix", wod.Location{Name: "a", Students: 1, Kind: wod.LocationLegacy, BackendEmail: "wod@be.example", BackendSMTP: "10.0.0.5:2525"}, true, "10.0.0.5:2525"},
		{"legacy with a host only", wod.Location{Name: "a", Students: 1, Kind: wod.LocationLegacy, BackendEmail: "wod@be.example", BackendSMTP: "mx.example"}, true, "mx.example:10025"},
		{"legacy without an address", wod.Location{Name: "a", Students: 1, Kind: wod.LocationLegacy}, false, ""},
		{"an address with a line break", wod.Location{Name: "a", Students: 1, Kind: wod.LocationLegacy, BackendEmail: "wod@be.example\r\nRCPT TO:<x@y>"}, false, ""},
		{"an agent with a backend address", wod.Location{Name: "a", Students: 1, BackendEmail: "wod@be.example"}, false, ""},
		{"an unknown kind", wod.Location{Name: "a", Students: 1, Kind: "ssh"}, false, ""},
	} {
		c.l.Normalize()
		err := c.l.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.ok && c.addr != "" && c.l.BackendAddr() != c.addr {
			t.Errorf("%s: backend at %s, want %s", c.name, c.l.BackendAddr(), c.addr)
		}
	}
}
