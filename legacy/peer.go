package legacy

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// errPeerUnowned is a local peer whose socket no process holds any more: a
// client that sent its mail and closed (its end is then a time-wait or
// orphaned socket, listed with uid 0). Its sender cannot be known, so the
// connection is refused rather than taken as root's.
var errPeerUnowned = errors.New("the connecting socket has no owner any more (closed before the greeting)")

// LocalPeer finds the owner of the other end of a TCP connection whose ends
// are local and remote (as this side sees them), when that end is a socket
// of this machine's network namespace: a process here connected over
// loopback or to one of this host's own addresses. found is false when no
// local socket is that end (the peer is another machine). The kernel's
// socket tables (/proc/net/tcp and tcp6) are world-readable, so this needs
// no privilege; the uid listed is the one that created the socket, which a
// process cannot change afterwards.
func LocalPeer(local, remote netip.AddrPort) (uid int, found bool, err error) {
	// The peer's socket is the mirror of ours: its local end is our remote.
	want := socketPair{local: unmapPort(remote), remote: unmapPort(local)}
	uid = -1
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		entries, err := readSocketTable(name)
		if errors.Is(err, fs.ErrNotExist) && name == "/proc/net/tcp6" {
			continue // a kernel without IPv6
		}
		if err != nil {
			return -1, false, err
		}
		for _, e := range entries {
			if e.pair != want {
				continue
			}
			found = true
			if e.inode == 0 {
				return -1, true, errPeerUnowned
			}
			if uid >= 0 && uid != e.uid {
				return -1, true, fmt.Errorf("two local sockets, of uids %d and %d, claim the connection", uid, e.uid)
			}
			uid = e.uid
		}
	}
	return uid, found, nil
}

// CheckPeerLookup tells whether LocalPeer can work on this machine: if it
// cannot, no local sender could be told from a student.
func CheckPeerLookup() error {
	_, err := readSocketTable("/proc/net/tcp")
	return err
}

type socketPair struct{ local, remote netip.AddrPort }

type socketEntry struct {
	pair  socketPair
	uid   int
	inode uint64
}

// readSocketTable reads one of /proc/net/tcp{,6}: "sl local rem st … uid
// timeout inode …", addresses in hex, each 32-bit word in host byte order.
func readSocketTable(name string) ([]socketEntry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("the kernel's socket table: %w", err)
	}
	defer f.Close()
	var out []socketEntry
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		local, err1 := parseProcAddr(fields[1])
		remote, err2 := parseProcAddr(fields[2])
		uid, err3 := strconv.Atoi(fields[7])
		inode, err4 := strconv.ParseUint(fields[9], 10, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", name, sc.Text(), err)
		}
		out = append(out, socketEntry{pair: socketPair{local: local, remote: remote}, uid: uid, inode: inode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// parseProcAddr reads "0100007F:1F90" (127.0.0.1:8080 on a little-endian
// machine) or its 32-hex-digit IPv6 form.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	raw, err := hex.DecodeString(hexAddr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q", s)
	}
	// Each 32-bit word is printed as a number in host order.
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// unmapPort drops what the socket tables do not show: the IPv4-in-IPv6
// form of a dual-stack socket and an IPv6 zone.
func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// tcpAddrPort is a connection end as an address and port.
func tcpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := t.AddrPort()
	return unmapPort(ap), ap.IsValid()
}

// ownAddress tells whether a is an address of this host, where a peer's
// socket would be in LocalPeer's tables. Unknown counts as own: the caller
// refuses what it cannot identify.
func ownAddress(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, x := range addrs {
		if p, err := netip.ParsePrefix(x.String()); err == nil && p.Addr().Unmap().WithZone("") == a {
			return true
		}
	}
	return false
}
