package jupyterhub

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Defaults of LoginThrottle.
const (
	DefaultLoginDelayAfter = 5
	DefaultLoginBlockAfter = 10
	DefaultLoginBlockFor   = 15 * time.Minute
	// maxLoginDelay caps the wait before an attempt of a failing address
	// (it doubles from 1 s with each failure past DelayAfter).
	maxLoginDelay = 30 * time.Second
	// maxThrottledAddresses bounds the hub's memory of addresses; the
	// least recently seen ones are forgotten first.
	maxThrottledAddresses = 10000
	// auditFD is the audit pipe's descriptor number in the hub
	// (exec.Cmd.ExtraFiles[0]).
	auditFD = 3
)

// LoginThrottle is what the managed hub does with an address whose password
// logins keep failing (the original ran fail2ban on the hub's log). Failed
// logins are counted per client address (an IPv6 client per /64) over the
// last BlockFor. From DelayAfter failures on, each further attempt waits
// before PAM sees it (1 s, doubling, at most 30 s); at BlockAfter failures the
// address is refused, without running PAM, for BlockFor (HTTP 429 with
// Retry-After). Attempts still in PAM count as failures until they succeed,
// so a burst of parallel attempts cannot slip past the limit.
//
// Only password logins are throttled: the agent's API calls (token), the
// students' servers (OAuth) and the health checks never go through it. A
// successful login resets nothing: an attacker with a valid account of his
// own cannot interleave it to keep guessing.
//
// The client address is the TCP peer, or, when the peer is the proxy (a
// loopback socket owned by root), the last X-Forwarded-For entry, the one
// configurable-http-proxy appended. JupyterHub's own request.remote_ip is not
// used: Tornado lets a client's X-Real-Ip header override it, through the
// proxy. A student's process that connects to the hub's port directly is
// keyed on its loopback address, whatever headers it sends.
type LoginThrottle struct {
	// DelayAfter is the failures after which attempts wait; 0 means
	// DefaultLoginDelayAfter, negative never.
	DelayAfter int
	// BlockAfter is the failures after which the address is refused; 0
	// means DefaultLoginBlockAfter, negative never.
	BlockAfter int
	// BlockFor is how long a refusal lasts and how far back failures
	// count; 0 means DefaultLoginBlockFor.
	BlockFor time.Duration
	// Exempt lists networks ("10.1.0.0/16") or addresses never throttled:
	// a classroom behind one NAT address, whose participants' typos add up.
	Exempt []string
}

// loginThrottle is a LoginThrottle after defaults and validation.
type loginThrottle struct {
	delayAfter, blockAfter int // 0: never
	blockFor               time.Duration
	exempt                 []string // canonical prefixes
}

func (t LoginThrottle) resolve() (loginThrottle, error) {
	r := loginThrottle{delayAfter: t.DelayAfter, blockAfter: t.BlockAfter, blockFor: t.BlockFor}
	switch {
	case r.delayAfter == 0:
		r.delayAfter = DefaultLoginDelayAfter
	case r.delayAfter < 0:
		r.delayAfter = 0
	}
	switch {
	case r.blockAfter == 0:
		r.blockAfter = DefaultLoginBlockAfter
	case r.blockAfter < 0:
		r.blockAfter = 0
	}
	switch {
	case r.blockFor == 0:
		r.blockFor = DefaultLoginBlockFor
	case r.blockFor < time.Second:
		return r, fmt.Errorf("jupyterhub: login block time %v: want at least a second", t.BlockFor)
	}
	for _, n := range t.Exempt {
		p, err := parsePrefix(n)
		if err != nil {
			return r, fmt.Errorf("jupyterhub: login throttle exemption %q: want a network such as 10.1.0.0/16 or an address", n)
		}
		r.exempt = append(r.exempt, p.String())
	}
	return r, nil
}

// parsePrefix accepts a CIDR network or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// renderModule writes the throttle's module-level Python: settings, the
// audit pipe, the client address. Fixed code; the values go through the
// py* helpers.
func (t loginThrottle) renderModule(line func(string, ...any)) error {
	blockFor, err := pyFloat(t.blockFor.Seconds())
	if err != nil {
		return err
	}
	maxDelay, err := pyFloat(maxLoginDelay.Seconds())
	if err != nil {
		return err
	}
	line("# wod's throttle of failed logins (fail2ban's job in the original): per client")
	line("# address, failures slow the next attempts, then refuse the address without PAM.")
	line("# Every failure and refusal goes to the agent on a pipe of its own (fd %d), which", auditFD)
	line("# nothing the hub starts inherits: a student's process can write to the hub's")
	line("# log, not to this.")
	line("import asyncio, collections, ipaddress, json, math, os, socket, stat, struct, time")
	line("from tornado import web")
	line("")
	line("_WOD_DELAY_AFTER = %d  # failures after which attempts wait (0: never)", t.delayAfter)
	line("_WOD_BLOCK_AFTER = %d  # failures after which the address is refused (0: never)", t.blockAfter)
	line("_WOD_BLOCK_FOR = %s  # seconds; also how far back failures count", blockFor)
	line("_WOD_MAX_DELAY = %s", maxDelay)
	line("_WOD_MAX_ADDRESSES = %d", maxThrottledAddresses)
	line("_WOD_EXEMPT = [ipaddress.ip_network(n) for n in %s]", pyStrList(t.exempt))
	line("")
	line("def _wod_audit_fd():")
	line("    try:")
	line("        fd = int(os.environ.pop(%s, %s))", pyStr("WOD_AUDIT_FD"), pyStr(""))
	line("        if not stat.S_ISFIFO(os.fstat(fd).st_mode):")
	line("            return None")
	line("        os.set_inheritable(fd, False)")
	line("        os.set_blocking(fd, False)  # a stuck reader must not stall the hub")
	line("        return fd")
	line("    except (ValueError, OSError):")
	line("        return None")
	line("")
	line("_WOD_AUDIT_FD = _wod_audit_fd()")
	line("")
	line("def _wod_audit(event, addr, user, **extra):")
	line("    if _WOD_AUDIT_FD is None:")
	line("        return")
	line("    rec = dict(event=event, addr=addr, user=user, **extra)")
	line("    try:")
	line("        # ASCII, one line, well under PIPE_BUF: written whole or not at all.")
	line("        os.write(_WOD_AUDIT_FD, (json.dumps(rec) + %s).encode())", pyStr("\n"))
	line("    except OSError:")
	line("        pass")
	line("")
	line("def _wod_socket_uid(local, remote):")
	line("    # The owner of the TCP socket local -> remote, from /proc/net/tcp.")
	line("    def key(a):")
	line("        return %s %% (struct.unpack(%s, socket.inet_aton(a[0]))[0], a[1])", pyStr("%08X:%04X"), pyStr("=I"))
	line("    want = (key(local), key(remote))")
	line("    with open(%s) as f:", pyStr("/proc/net/tcp"))
	line("        for row in f:")
	line("            cols = row.split()")
	line("            if len(cols) > 7 and (cols[1], cols[2]) == want:")
	line("                return int(cols[7])")
	line("    return None")
	line("")
	line("def _wod_client(handler):")
	line("    # The throttle's key for a request, or None for an exempt network.")
	line("    # Not request.remote_ip: Tornado takes X-Real-Ip from the client as is.")
	line("    try:")
	line("        sock = handler.request.connection.stream.socket")
	line("        peer, local = sock.getpeername()[:2], sock.getsockname()[:2]")
	line("        addr = peer[0]")
	line("        if sock.family == socket.AF_INET and ipaddress.ip_address(addr).is_loopback \\")
	line("                and _wod_socket_uid(peer, local) == 0:")
	line("            # The proxy (root): it appends the address it saw to the client's list.")
	line("            hops = %s.join(handler.request.headers.get_list(%s)).split(%s)", pyStr(","), pyStr("X-Forwarded-For"), pyStr(","))
	line("            if hops[-1].strip():")
	line("                addr = hops[-1].strip()")
	line("        ip = ipaddress.ip_address(addr.split(%s)[0])", pyStr("%"))
	line("    except Exception:")
	line("        return %s", pyStr("unknown"))
	line("    if ip.version == 6 and ip.ipv4_mapped:")
	line("        ip = ip.ipv4_mapped")
	line("    if any(ip.version == n.version and ip in n for n in _WOD_EXEMPT):")
	line("        return None")
	line("    if ip.version == 6:")
	line("        return str(ipaddress.ip_network((ip, 64), strict=False))")
	line("    return str(ip)")
	line("")
	line("def _wod_refusal(seconds):")
	line("    minutes = max(1, math.ceil(seconds / 60))")
	line("    e = web.HTTPError(429, %s, minutes, %s if minutes == 1 else %s)",
		pyStr("Too many failed logins from your address. Try again in %d minute%s."), pyStr(""), pyStr("s"))
	line("    e.headers = {%s: str(math.ceil(seconds))}", pyStr("Retry-After"))
	line("    return e")
	line("")
	line("class _WodAddress:")
	line("    __slots__ = (%s, %s, %s)", pyStr("failures"), pyStr("pending"), pyStr("blocked_until"))
	line("    def __init__(self):")
	line("        self.failures = collections.deque(maxlen=max(_WOD_DELAY_AFTER, _WOD_BLOCK_AFTER) + 8)")
	line("        self.pending = 0")
	line("        self.blocked_until = 0.0")
	line("")
	return nil
}

// renderMethods writes the throttle's methods into the authenticator class
// (indented one level). get_authenticated_user wraps every password check:
// authenticate, the group check, and the API's password-for-token route.
func (t loginThrottle) renderMethods(line func(string, ...any)) {
	line("    _wod_addresses = None")
	line("")
	line("    def _wod_address(self, key):")
	line("        addrs = self._wod_addresses")
	line("        if addrs is None:")
	line("            addrs = self._wod_addresses = collections.OrderedDict()")
	line("        st = addrs.get(key)")
	line("        if st is None:")
	line("            st = addrs[key] = _WodAddress()")
	line("            while len(addrs) > _WOD_MAX_ADDRESSES:")
	line("                addrs.popitem(last=False)")
	line("        else:")
	line("            addrs.move_to_end(key)")
	line("        return st")
	line("")
	line("    async def get_authenticated_user(self, handler, data):")
	line("        key = _wod_client(handler) if handler is not None else %s", pyStr("unknown"))
	line("        if key is None:")
	line("            return await super().get_authenticated_user(handler, data)")
	line("        user = str((data or {}).get(%s, %s))[:64]  # never the password", pyStr("username"), pyStr(""))
	line("        st = self._wod_address(key)")
	line("        now = time.monotonic()")
	line("        if st.blocked_until > now:")
	line("            _wod_audit(%s, key, user)", pyStr("refused"))
	line("            raise _wod_refusal(st.blocked_until - now)")
	line("        while st.failures and st.failures[0] <= now - _WOD_BLOCK_FOR:")
	line("            st.failures.popleft()")
	line("        # Attempts still in PAM count: a parallel burst cannot pass the limit.")
	line("        prior = len(st.failures) + st.pending")
	line("        if _WOD_BLOCK_AFTER and prior >= _WOD_BLOCK_AFTER:")
	line("            _wod_audit(%s, key, user)", pyStr("refused"))
	line("            raise _wod_refusal(_WOD_BLOCK_FOR)")
	line("        st.pending += 1")
	line("        authenticated = None")
	line("        try:")
	line("            if _WOD_DELAY_AFTER and prior >= _WOD_DELAY_AFTER:")
	line("                await asyncio.sleep(min(2 ** (prior - _WOD_DELAY_AFTER), _WOD_MAX_DELAY))")
	line("            authenticated = await super().get_authenticated_user(handler, data)")
	line("            return authenticated")
	line("        finally:")
	line("            st.pending -= 1")
	line("            if authenticated is None:")
	line("                self._wod_failed(st, key, user)")
	line("")
	line("    def _wod_failed(self, st, key, user):")
	line("        now = time.monotonic()")
	line("        st.failures.append(now)")
	line("        n = len(st.failures)")
	line("        _wod_audit(%s, key, user, failures=n)", pyStr("failed"))
	line("        if _WOD_BLOCK_AFTER and n >= _WOD_BLOCK_AFTER and st.blocked_until <= now:")
	line("            st.blocked_until = now + _WOD_BLOCK_FOR")
	line("            st.failures.clear()")
	line("            self.log.warning(%s, key, _WOD_BLOCK_FOR, n)", pyStr("wod: %s refused for %d s after %d failed logins"))
	line("            _wod_audit(%s, key, user, failures=n, seconds=_WOD_BLOCK_FOR)", pyStr("blocked"))
	line("")
}
