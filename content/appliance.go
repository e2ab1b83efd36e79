package content

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wod-dev/wod"
)

// ApplianceKey is the configuration variable holding the address of a
// workshop's appliance, or of its first appliance when it has one per
// student: "IP-<workshop>", as in the original's backend group_vars.
func ApplianceKey(workshop string) string { return "IP-" + workshop }

// appliancePlaceholder is what the original's group_vars ship in place of
// an address; its scripts refuse it, so do we.
const appliancePlaceholder = "x.y.z.t"

// ApplianceTarget returns the address of the appliance a student of the
// workshop works on (the original's WODRTARGET), from the configured
// variables vars:
//
//   - none: "" (the workshop has no appliance);
//   - mono: IP-<workshop>, one appliance shared by every student (an address
//     or a host name);
//   - multi: one appliance per seat, numbered from IP-<workshop> (an IPv4
//     address): the last octet plus number - seatMin, so the workshop's
//     first seat gets the base address.
//
// An appliance workshop without its address is an error that names the
// variable: a deployment without it would set the student up against
// nothing.
func ApplianceTarget(vars Vars, workshop string, mode wod.ApplianceMode, number, seatMin int) (string, error) {
	if mode == "" || mode == wod.ApplianceNone {
		return "", nil
	}
	key := ApplianceKey(workshop)
	raw, ok := vars[key]
	base := strings.TrimSpace(fmt.Sprint(raw))
	switch {
	case !ok || raw == nil || base == "":
		return "", fmt.Errorf("content: %s is a %s-appliance workshop but %s is not set: give the appliance's address with --var %s=ADDRESS",
			workshop, mode, key, key)
	case base == appliancePlaceholder:
		return "", fmt.Errorf("content: %s is the placeholder %q: give the appliance's address with --var %s=ADDRESS", key, base, key)
	}
	switch mode {
	case wod.ApplianceMono:
		if strings.ContainsAny(base, " \t/") {
			return "", fmt.Errorf("content: %s is %q: not an address or a host name", key, base)
		}
		return base, nil
	case wod.ApplianceMulti:
		ip, err := netip.ParseAddr(base)
		if err != nil || !ip.Is4() {
			return "", fmt.Errorf("content: %s is %q: a multi-appliance workshop needs an IPv4 address to number its appliances from", key, base)
		}
		if number < seatMin {
			return "", fmt.Errorf("content: student %d is below the workshop's first seat %d", number, seatMin)
		}
		b := ip.As4()
		last := int(b[3]) + number - seatMin
		if last > 254 {
			return "", fmt.Errorf("content: %s is %s: student %d (seat %d of the workshop) would be past .254",
				key, base, number, number-seatMin+1)
		}
		b[3] = byte(last)
		return netip.AddrFrom4(b).String(), nil
	}
	return "", fmt.Errorf("content: appliance mode %q: must be none, mono or multi", mode)
}
