package config

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestReachableHost: the host name when it resolves to an address other
// than loopback; else the primary address; else the first usable one;
// else localhost, each with its reason.
func TestReachableHost(t *testing.T) {
	addr := netip.MustParseAddr
	noPrimary := func() (netip.Addr, error) { return netip.Addr{}, errors.New("network is unreachable") }
	for _, tc := range []struct {
		name          string
		lookup        []netip.Addr
		lookupErr     error
		primary       func() (netip.Addr, error)
		addrs         []netip.Addr
		want, wantWhy string
	}{
		{name: "resolves", lookup: []netip.Addr{addr("127.0.1.1"), addr("10.1.2.3")},
			want: "hub7", wantWhy: "the host name hub7 resolves to 10.1.2.3"},
		{name: "unresolvable", lookupErr: errors.New("no such host"),
			primary: func() (netip.Addr, error) { return addr("192.168.5.9"), nil },
			want:    "192.168.5.9", wantWhy: "the host name hub7 does not resolve; 192.168.5.9 is the address of the default route"},
		{name: "loopback only (Debian's 127.0.1.1)", lookup: []netip.Addr{addr("127.0.1.1")},
			primary: func() (netip.Addr, error) { return addr("10.0.0.4"), nil },
			want:    "10.0.0.4", wantWhy: "resolves to loopback only; 10.0.0.4"},
		{name: "no default route", lookupErr: errors.New("no such host"), primary: noPrimary,
			addrs: []netip.Addr{addr("127.0.0.1"), addr("fe80::1"), addr("fd00::7"), addr("172.16.0.2")},
			want:  "172.16.0.2", wantWhy: "first address other than loopback"},
		{name: "nothing but loopback", lookupErr: errors.New("no such host"), primary: noPrimary,
			addrs: []netip.Addr{addr("127.0.0.1"), addr("::1")},
			want:  "localhost", wantWhy: "no address other than loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := HostProbe{
				Hostname: func() (string, error) { return "hub7", nil },
				Lookup: func(context.Context, string) ([]netip.Addr, error) {
					return tc.lookup, tc.lookupErr
				},
				Primary: tc.primary,
				Addrs:   func() ([]netip.Addr, error) { return tc.addrs, nil },
			}
			if p.Primary == nil {
				p.Primary = noPrimary
			}
			h := ReachableHost(context.Background(), p)
			if h.Name != tc.want || !strings.Contains(h.Why, tc.wantWhy) {
				t.Fatalf("got %+v, want %s (%s)", h, tc.want, tc.wantWhy)
			}
		})
	}
}

// TestDeriveHubURL: the hub URL follows --hub-addr; a given one is kept.
func TestDeriveHubURL(t *testing.T) {
	probe := HostProbe{Hostname: func() (string, error) { return "hub7", nil },
		Lookup: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.9.8.7")}, nil
		}}
	for addr, want := range map[string]string{":8000": "http://hub7:8000", "0.0.0.0:9000": "http://hub7:9000",
		"127.0.0.1:8001": "http://localhost:8001", "10.1.1.1:8000": "http://10.1.1.1:8000"} {
		c := &Config{Agent: Agent{HubAddr: addr}}
		c.DeriveHubURL(context.Background(), probe)
		if c.HubURL != want || c.HubURLWhy == "" {
			t.Errorf("--hub-addr %s: %q (%s), want %s", addr, c.HubURL, c.HubURLWhy, want)
		}
	}
	c := &Config{HubURL: "https://hub.example.org", Agent: Agent{HubAddr: ":8000"}}
	c.DeriveHubURL(context.Background(), probe)
	if c.HubURL != "https://hub.example.org" || !strings.Contains(c.HubURLWhy, "given") {
		t.Errorf("given: %q (%s)", c.HubURL, c.HubURLWhy)
	}
}
