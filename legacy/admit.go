package legacy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/user"
	"slices"
	"strconv"
	"time"
)

// admit decides whether a connection may speak: its address must be in an
// allowed network and, when a process of this host made it, that process
// must be root's or a SenderUIDs account's. It runs before the greeting,
// while the sender still holds its socket (the original api-db hangs up
// only once the greeting arrives).
func (in *Intake) admit(ctx context.Context, c net.Conn) error {
	remote, okR := tcpAddrPort(c.RemoteAddr())
	local, okL := tcpAddrPort(c.LocalAddr())
	if !okR || !okL {
		return in.refuse(ctx, c.RemoteAddr().String(), -1, "not a TCP connection")
	}
	if !in.allowed(remote.Addr()) {
		return in.refuse(ctx, remote.String(), -1, "the sender's network is not allowed (--legacy-mail-allow)")
	}
	uid, found, err := LocalPeer(local, remote)
	switch {
	case err != nil:
		return in.refuse(ctx, remote.String(), -1, "cannot tell which process of this host connected: "+err.Error())
	case !found && ownAddress(remote.Addr()):
		// An address of this host whose socket is not in our tables (it
		// closed already, or lives in another network namespace).
		return in.refuse(ctx, remote.String(), -1, "a connection from this host whose process cannot be identified")
	case !found:
		return nil // another machine, on an allowed network
	case uid == 0 || slices.Contains(in.SenderUIDs, uid):
		return nil
	default:
		return in.refuse(ctx, remote.String(), uid,
			"a process of this host's user "+userName(uid)+" may not send commands (only root's and --legacy-mail-uids')")
	}
}

// refuse logs and reports a refused connection and returns its reason.
func (in *Intake) refuse(ctx context.Context, remote string, uid int, reason string) error {
	attrs := []any{"remote", remote, "reason", reason}
	detail := "command mail connection from " + remote
	if uid >= 0 {
		attrs = append(attrs, "uid", uid, "user", userName(uid))
		detail += fmt.Sprintf(" (uid %d, %s)", uid, userName(uid))
	}
	in.logger().WarnContext(ctx, "legacy command mail refused", attrs...)
	if in.Audit != nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := in.Audit(actx, "legacy.refused", detail+" refused: "+reason); err != nil {
			in.logger().WarnContext(ctx, "report a refused command mail", "error", err)
		}
	}
	return errors.New(reason)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(uid)
}

// Public address space an allow-list entry may cover at most: participants
// connect from the Internet, and their own machines are out of reach of
// the uid check. A /24 or a /48 names a site's own network, not the
// Internet.
const (
	maxPublicBits4 = 24
	maxPublicBits6 = 48
)

// nonPublic are ranges no participant's own machine connects from across
// the Internet.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"),
}

// CheckAllow refuses an allow-list that admits students where the intake
// cannot tell them from the api-db. On this host the uid check tells them
// apart, whatever the address (loopback or the host's own): these entries
// are fine. It cannot reach a process elsewhere, so an entry is refused
// when it
//   - covers every address (0.0.0.0/0, ::/0) or more public addresses than
//     a site's network (wider than a /24 or a /48): it would take the
//     participants' own machines;
//   - holds an appliance's address (appliances, "IP-WKSHP-X" variables):
//     students get accounts there. A multi-appliance workshop numbers its
//     students' appliances upwards from that address, so an IPv4 entry
//     meeting the rest of its /24 above it is refused too;
//   - is an unspecified address (0.0.0.0 or ::), which names no sender.
//
// Name the api-db's own address (the README's example: 10.0.0.12).
func CheckAllow(allow []netip.Prefix, appliances map[string]netip.Addr) error {
	var errs []error
	for _, p := range allow {
		a := p.Addr().Unmap()
		switch {
		case p.Bits() == 0:
			errs = append(errs, fmt.Errorf("--legacy-mail-allow %s admits every address, the participants' machines too: name the api-db's address", p))
		case a.IsUnspecified():
			errs = append(errs, fmt.Errorf("--legacy-mail-allow %s is no sender's address: name the api-db's address", p))
		case !within(p, nonPublic) && (a.Is4() && p.Bits() < maxPublicBits4 || !a.Is4() && p.Bits() < maxPublicBits6):
			errs = append(errs, fmt.Errorf("--legacy-mail-allow %s covers more of the Internet than a site's network (wider than /%d for IPv4, /%d for IPv6): the participants' own machines could send commands; name the api-db's address",
				p, maxPublicBits4, maxPublicBits6))
		}
		for name, app := range appliances {
			if overlapsAppliances(p, app.Unmap()) {
				errs = append(errs, fmt.Errorf("--legacy-mail-allow %s holds the appliances of %s (%s and the students' numbered after it): students have accounts there",
					p, name, app))
			}
		}
	}
	return errors.Join(errs...)
}

// within tells whether p lies inside one of ranges.
func within(p netip.Prefix, ranges []netip.Prefix) bool {
	for _, r := range ranges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// overlapsAppliances tells whether p meets app or, for IPv4, the addresses
// after it up to .254 (where multi-appliance workshops number their
// students' machines).
func overlapsAppliances(p netip.Prefix, app netip.Addr) bool {
	if !app.Is4() {
		return p.Contains(app)
	}
	last := app.As4()
	last[3] = 254
	end := netip.AddrFrom4(last)
	if app.Compare(end) > 0 {
		end = app
	}
	first := p.Masked().Addr().Unmap()
	if !first.Is4() {
		return false
	}
	return p.Contains(app) || p.Contains(end) || app.Compare(first) <= 0 && first.Compare(end) <= 0
}

// CheckSenderUIDs refuses local sender accounts that are students': uids
// of the students' range (base+1..base+n) or members of group.
func CheckSenderUIDs(uids []int, base, n int, group string) error {
	var errs []error
	var gid string
	if g, err := user.LookupGroup(group); err == nil {
		gid = g.Gid
	}
	for _, uid := range uids {
		if uid > base && uid <= base+n {
			errs = append(errs, fmt.Errorf("--legacy-mail-uids %d is a student's uid (%d-%d)", uid, base+1, base+n))
			continue
		}
		if uid == 0 {
			continue // root may always send
		}
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			errs = append(errs, fmt.Errorf("--legacy-mail-uids %d: %w", uid, err))
			continue
		}
		if gid == "" {
			continue
		}
		groups, err := u.GroupIds()
		if err != nil {
			errs = append(errs, fmt.Errorf("--legacy-mail-uids %d (%s): its groups: %w", uid, u.Username, err))
			continue
		}
		if u.Gid == gid || slices.Contains(groups, gid) {
			errs = append(errs, fmt.Errorf("--legacy-mail-uids %d (%s) is in the students' group %s", uid, u.Username, group))
		}
	}
	return errors.Join(errs...)
}
