package jupyterhub

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLoginAuditRateLimitsPerKindAndAddress(t *testing.T) {
	a := newLoginAudit(time.Minute)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	add := func(rec loginRecord, at time.Duration) {
		t.Helper()
		if err := a.add(rec, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	// A flood from one address: the first failure at once, the rest summed
	// up when the minute is over.
	for i := range 50 {
		add(loginRecord{Event: "failed", Addr: "203.0.113.9", User: fmt.Sprintf("student%d", i%7)}, time.Duration(i)*time.Second/2)
	}
	add(loginRecord{Event: "failed", Addr: "198.51.100.1", User: "alice\n\"x\""}, time.Second)
	add(loginRecord{Event: "blocked", Addr: "203.0.113.9", User: "student1", Failures: 10, Seconds: 900}, 5*time.Second)
	events, dropped := a.take()
	if dropped != 0 || len(events) != 3 {
		t.Fatalf("at once: %d events (%d dropped): %v", len(events), dropped, events)
	}
	if events[0] != (AuditEvent{EventLoginFailed, `1 failed login to the hub from 203.0.113.9 (user "student0")`}) ||
		events[1] != (AuditEvent{EventLoginFailed, `1 failed login to the hub from 198.51.100.1 (user "alice\n\"x\"")`}) ||
		events[2] != (AuditEvent{EventLoginBlocked, `203.0.113.9 refused at the hub's login for 15m0s after 10 failed logins (user "student1")`}) {
		t.Errorf("events at once:\n%q", events)
	}
	a.flush(t0.Add(59*time.Second), false)
	if events, _ := a.take(); len(events) != 0 {
		t.Errorf("a summary before the minute is over: %v", events)
	}
	a.flush(t0.Add(61*time.Second), false)
	events, _ = a.take()
	want := `49 failed logins to the hub from 203.0.113.9 (users "student1", "student2", "student3", "student4", "student5" and 2 more)`
	if len(events) != 1 || events[0].Detail != want {
		t.Errorf("summary: %q, want %q", events, want)
	}
	// Quiet buckets are forgotten a minute later; a new record is then
	// reported at once again.
	a.flush(t0.Add(3*time.Minute), false)
	if len(a.buckets) != 0 {
		t.Errorf("%d buckets kept", len(a.buckets))
	}
	add(loginRecord{Event: "refused", Addr: "203.0.113.9", User: "x"}, 3*time.Minute)
	add(loginRecord{Event: "refused", Addr: "203.0.113.9", User: "x"}, 3*time.Minute)
	a.flush(t0.Add(3*time.Minute), true) // the agent stopping: all goes out
	events, _ = a.take()
	if len(events) != 2 || !strings.HasPrefix(events[1].Detail, "1 login to the hub refused from 203.0.113.9") {
		t.Errorf("final flush: %q", events)
	}

	if err := a.add(loginRecord{Event: "succeeded", Addr: "x"}, t0); err == nil {
		t.Error("an unknown record was accepted")
	}
}

// TestLoginAuditScopes tells a blocked user name from a blocked address, in
// separate events, and refuses an unknown scope.
func TestLoginAuditScopes(t *testing.T) {
	a := newLoginAudit(time.Minute)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, rec := range []loginRecord{
		{Event: "blocked", Addr: "203.0.113.9", User: "student1", Failures: 10, Seconds: 900, Scope: "user"},
		{Event: "refused", Addr: "203.0.113.9", User: "student1", Scope: "user"},
		{Event: "blocked", Addr: "203.0.113.9", User: "student7", Failures: 500, Seconds: 900, Scope: "address"},
		{Event: "refused", Addr: "203.0.113.9", User: "student8", Scope: "address"},
		{Event: "refused", Addr: "198.51.100.1", User: "x"}, // a hub of before scopes
	} {
		if err := a.add(rec, t0); err != nil {
			t.Fatal(err)
		}
	}
	events, _ := a.take()
	want := []AuditEvent{
		{EventLoginBlocked, `user "student1" refused at the hub's login from 203.0.113.9 for 15m0s after 10 failed logins of that name`},
		{EventLoginRefused, `1 login to the hub refused from 203.0.113.9 for a blocked user name (user "student1")`},
		{EventLoginBlocked, `203.0.113.9 refused at the hub's login for 15m0s after 500 failed logins (user "student7")`},
		{EventLoginRefused, `1 login to the hub refused from 203.0.113.9, which is blocked (user "student8")`},
		{EventLoginRefused, `1 login to the hub refused from 198.51.100.1, which is blocked (user "x")`},
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("events:\n%q\nwant\n%q", events, want)
	}
	if err := a.add(loginRecord{Event: "blocked", Addr: "x", Scope: "everyone"}, t0); err == nil {
		t.Error("an unknown scope was accepted")
	}
}

func TestLoginAuditBoundsAddresses(t *testing.T) {
	a := newLoginAudit(time.Minute)
	now := time.Now()
	for i := range maxAuditKeys + 500 {
		if err := a.add(loginRecord{Event: "failed", Addr: fmt.Sprintf("10.0.%d.%d", i/256, i%256), User: strings.Repeat("u", 500)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.buckets) > maxAuditKeys+1 {
		t.Errorf("%d buckets", len(a.buckets))
	}
	events, dropped := a.take()
	if len(events)+dropped != maxAuditKeys+1 || len(events) > maxAuditQueue {
		t.Errorf("%d events, %d dropped", len(events), dropped)
	}
	for _, e := range events {
		if len(e.Detail) > 2000 { // the server's limit
			t.Fatalf("detail of %d bytes", len(e.Detail))
		}
	}
	a.flush(now.Add(time.Minute), false)
	events, _ = a.take()
	if len(events) != 1 || !strings.HasPrefix(events[0].Detail, "499 failed logins to the hub from other addresses") {
		t.Errorf("the addresses beyond the bound: %q", events)
	}
}

func TestLoginThrottleSettings(t *testing.T) {
	r, err := LoginThrottle{}.resolve()
	if err != nil || r.delayAfter != DefaultLoginDelayAfter || r.blockAfter != DefaultLoginBlockAfter ||
		r.addressBlockAfter != DefaultLoginAddressBlockAfter || r.blockFor != DefaultLoginBlockFor {
		t.Errorf("defaults: %+v, %v", r, err)
	}
	r, err = LoginThrottle{DelayAfter: -1, BlockAfter: -1, AddressBlockAfter: -1, Exempt: []string{"10.1.2.3/16", " 192.0.2.7", "2001:db8::1/48"}}.resolve()
	if err != nil || r.delayAfter != 0 || r.blockAfter != 0 || r.addressBlockAfter != 0 ||
		strings.Join(r.exempt, " ") != "10.1.0.0/16 192.0.2.7/32 2001:db8::/48" {
		t.Errorf("never, exemptions: %+v, %v", r, err)
	}
	for _, bad := range []LoginThrottle{{Exempt: []string{"10.0.0.0/33"}}, {Exempt: []string{"'); import os #"}}, {BlockFor: time.Millisecond}} {
		if _, err := bad.resolve(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
