package config

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// hostLookupTimeout bounds the lookup of the host name: a machine whose
// name does not resolve may have no DNS to answer either.
const hostLookupTimeout = 2 * time.Second

// Host is what the machine is picked to be reached at, and why.
type Host struct {
	Name string // a host name or an address
	Why  string
}

// HostProbe is what ReachableHost looks at; the zero value looks at this
// machine (its host name, its resolver, its routes and interfaces).
type HostProbe struct {
	Hostname func() (string, error)
	Lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	// Primary is the address this machine's default route leaves from.
	Primary func() (netip.Addr, error)
	// Addrs are the addresses of the machine's interfaces.
	Addrs func() ([]netip.Addr, error)
}

// ReachableHost picks the name participants reach this machine at: its
// host name when that resolves to an address other than loopback (as
// Debian's 127.0.1.1 entry does), else its primary address (the one its
// default route leaves from, else its first other than loopback and
// link-local), else localhost.
func ReachableHost(ctx context.Context, p HostProbe) Host {
	p.defaults()
	name, err := p.Hostname()
	var lookupErr error
	switch {
	case err != nil:
		name = ""
	case name != "":
		lctx, cancel := context.WithTimeout(ctx, hostLookupTimeout)
		var addrs []netip.Addr
		addrs, lookupErr = p.Lookup(lctx, name)
		cancel()
		if lookupErr == nil {
			for _, a := range addrs {
				if usable(a) {
					return Host{Name: name, Why: fmt.Sprintf("the host name %s resolves to %s", name, a.Unmap())}
				}
			}
		}
	}
	why := "the host name " + name
	switch {
	case name == "":
		why = "this machine has no host name"
	case lookupErr != nil:
		why += " does not resolve"
	default:
		why += " resolves to loopback only"
	}
	if a, err := p.Primary(); err == nil && usable(a) {
		return Host{Name: a.Unmap().String(), Why: why + "; " + a.Unmap().String() + " is the address of the default route"}
	}
	if addrs, err := p.Addrs(); err == nil {
		var v6 netip.Addr
		for _, a := range addrs {
			switch {
			case !usable(a):
			case a.Unmap().Is4():
				return Host{Name: a.Unmap().String(), Why: why + "; " + a.Unmap().String() + " is this machine's first address other than loopback"}
			case !v6.IsValid():
				v6 = a
			}
		}
		if v6.IsValid() {
			return Host{Name: v6.String(), Why: why + "; " + v6.String() + " is this machine's first address other than loopback"}
		}
	}
	return Host{Name: "localhost", Why: why + " and this machine has no address other than loopback: only this machine reaches it"}
}

func usable(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && !a.IsLoopback() && !a.IsUnspecified() && !a.IsLinkLocalUnicast() && !a.IsMulticast()
}

func (p *HostProbe) defaults() {
	if p.Hostname == nil {
		p.Hostname = os.Hostname
	}
	if p.Lookup == nil {
		p.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if p.Primary == nil {
		p.Primary = primaryAddr
	}
	if p.Addrs == nil {
		p.Addrs = interfaceAddrs
	}
}

// primaryAddr is the source address of the default route: a UDP
// "connection" picks it and sends nothing.
func primaryAddr() (netip.Addr, error) {
	c, err := net.Dial("udp", "192.0.2.1:9") // TEST-NET-1: never answered, nothing is sent
	if err != nil {
		c, err = net.Dial("udp6", "[2001:db8::1]:9")
	}
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr(), nil
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// NeedsHubURL says whether commands of these uses read the hub URL: those
// running a hub, and those rendering notebooks (WODBEEXTFQDN is its host).
func NeedsHubURL(uses []Use) bool {
	for _, u := range uses {
		if u == UseLocal || u == UseHost || u == UseImport {
			return true
		}
	}
	return false
}

// DeriveHubURL sets the default hub URL (--hub-url not given) of the roles
// that run a hub: the managed hub's port (--hub-addr) at the address it
// listens on, or, when it listens on every interface, at the machine's
// reachable name (ReachableHost). HubURLWhy says how it was picked.
func (c *Config) DeriveHubURL(ctx context.Context, probe HostProbe) {
	if c.HubURL != "" && c.HubURLWhy == "" {
		c.HubURLWhy = "given (--hub-url)"
		return
	}
	if c.HubURL != "" {
		return
	}
	host, port, err := net.SplitHostPort(c.Agent.HubAddr)
	if err != nil || port == "" {
		port = "8000"
	}
	a, aerr := netip.ParseAddr(strings.Trim(host, "[]"))
	switch {
	case host == "" || (aerr == nil && a.IsUnspecified()):
		h := ReachableHost(ctx, probe)
		c.HubURL, c.HubURLWhy = "http://"+net.JoinHostPort(h.Name, port), h.Why
	case aerr == nil && a.IsLoopback():
		c.HubURL = "http://" + net.JoinHostPort("localhost", port)
		c.HubURLWhy = "the hub listens on loopback only (--hub-addr " + c.Agent.HubAddr + "): only this machine reaches it"
	default:
		c.HubURL = "http://" + net.JoinHostPort(host, port)
		c.HubURLWhy = "the address the hub listens on (--hub-addr " + c.Agent.HubAddr + ")"
	}
}
