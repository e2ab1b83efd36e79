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
	// DefaultLoginAddressBlockAfter lets a room of 100 behind one NAT
	// address through with a few typos each (a typo-prone one is stopped by
	// BlockAfter first), and stops a spray of guesses across names.
	DefaultLoginAddressBlockAfter = 500
	DefaultLoginBlockFor          = 15 * time.Minute
	// maxLoginDelay caps the wait before an attempt of a failing user name
	// (it doubles from 1 s with each failure past DelayAfter).
	maxLoginDelay = 30 * time.Second
	// addressPAMSlots is how many attempts of one address PAM checks at
	// once: a spray from one address never holds all of PAM's threads (a
	// failure holds one for pam_faildelay's 3 s), and the address's count
	// stays exact. The others of the address wait their turn.
	addressPAMSlots = pamThreads / 2
	// maxThrottledKeys bounds the hub's memory of addresses, and of pairs
	// of address and user name; the least recently seen are forgotten
	// first.
	maxThrottledKeys = 10000
	// maxWaitingPerName and maxWaitingPerAddress bound the attempts that
	// wait for their turn (one per user name and address, addressPAMSlots
	// per address): each holds a request and its connection in the hub, and
	// a flood from one address (a student's loop on the hub host) must not
	// pile them up. Past them an attempt is refused at once (429, a few
	// seconds). A room of hundreds behind one address stays below.
	maxWaitingPerName    = 32
	maxWaitingPerAddress = 1024
	busyRetryAfter       = 5 // seconds
	// auditFD is the audit pipe's descriptor number in the hub
	// (exec.Cmd.ExtraFiles[0]).
	auditFD = 3
)

// LoginThrottle is what the managed hub does with password logins that keep
// failing (the original ran fail2ban on the hub's log). Failed logins are
// counted over the last BlockFor under two keys, as OWASP advises: the
// client address with the user name typed (an IPv6 client per /64), with a
// strict limit against guessing one student's password; and the address
// alone, any names, with a limit high enough for a classroom behind one NAT
// address and low enough to stop a password spray.
//
//   - Only finished failures count: never a success, never an attempt still
//     in PAM. A room that logs in within one second passes whatever its
//     size.
//   - Bursts cannot pass a limit all the same: the attempts of one user
//     name from one address run one at a time, and an address gets no more
//     attempts under way than could still fail within its limit (and at most
//     addressPAMSlots). The others wait for the outcome, then go on or are
//     refused.
//   - From DelayAfter failures of a user name on, its next attempts wait
//     before PAM sees them (1 s, doubling, at most 30 s); at BlockAfter that
//     name is refused from that address, without running PAM, for BlockFor
//     (HTTP 429 with Retry-After). At AddressBlockAfter failures the whole
//     address is refused for BlockFor.
//   - A success clears its user name's failures from that address, not the
//     address's: an attacker who owns an account cannot interleave it to
//     keep spraying.
//
// There is no lock on a user name alone: anyone could use it to keep a
// student out. Only password logins are throttled: the agent's API calls
// (token), the students' servers (OAuth) and the health checks never go
// through it.
//
// The client address is the TCP peer, or, when the peer is the proxy (a
// loopback socket owned by root), the last X-Forwarded-For entry, the one
// configurable-http-proxy appended. JupyterHub's own request.remote_ip is not
// used: Tornado lets a client's X-Real-Ip header override it, through the
// proxy. A student's process that connects to the hub's port directly is
// keyed on its loopback address, whatever headers it sends.
type LoginThrottle struct {
	// DelayAfter is the failures of one user name from one address after
	// which its attempts wait; 0 means DefaultLoginDelayAfter, negative
	// never.
	DelayAfter int
	// BlockAfter is the failures of one user name from one address after
	// which that name is refused from there; 0 means
	// DefaultLoginBlockAfter, negative never.
	BlockAfter int
	// AddressBlockAfter is the failures from one address, whatever the
	// names, after which the address is refused; 0 means
	// DefaultLoginAddressBlockAfter, negative never.
	AddressBlockAfter int
	// BlockFor is how long a refusal lasts and how far back failures
	// count; 0 means DefaultLoginBlockFor.
	BlockFor time.Duration
	// Exempt lists networks ("10.1.0.0/16") or addresses never throttled.
	Exempt []string
}

// loginThrottle is a LoginThrottle after defaults and validation.
type loginThrottle struct {
	delayAfter, blockAfter int // per address and user name; 0: never
	addressBlockAfter      int // 0: never
	blockFor               time.Duration
	exempt                 []string // canonical prefixes
}

func (t LoginThrottle) resolve() (loginThrottle, error) {
	r := loginThrottle{blockFor: t.BlockFor}
	limit := func(n, def int) int {
		switch {
		case n == 0:
			return def
		case n < 0:
			return 0
		}
		return n
	}
	r.delayAfter = limit(t.DelayAfter, DefaultLoginDelayAfter)
	r.blockAfter = limit(t.BlockAfter, DefaultLoginBlockAfter)
	r.addressBlockAfter = limit(t.AddressBlockAfter, DefaultLoginAddressBlockAfter)
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

// The refusals' messages, per key (a Python format: minutes, plural "s").
const (
	refusalAddress = "Too many failed logins from your address. Try again in %d minute%s."
	refusalUser    = "Too many failed logins for this user name from your address. Try again in %d minute%s."
	refusalBusy    = "Too many logins at once from your address. Try again in a few seconds."
)

// renderModule writes the throttle's module-level Python: settings, the
// audit pipe, the client address, the counters. Fixed code; the values go
// through the py* helpers.
func (t loginThrottle) renderModule(line func(string, ...any)) error {
	blockFor, err := pyFloat(t.blockFor.Seconds())
	if err != nil {
		return err
	}
	maxDelay, err := pyFloat(maxLoginDelay.Seconds())
	if err != nil {
		return err
	}
	line("# wod's throttle of failed logins (fail2ban's job in the original). Finished")
	line("# failures count, per client address and user name (strict) and per address")
	line("# (any names, for a classroom behind one NAT); successes and attempts under way")
	line("# never do. Every failure and refusal goes to the agent on a pipe of its own")
	line("# (fd %d), which nothing the hub starts inherits: a student's process can write", auditFD)
	line("# to the hub's log, not to this.")
	line("import asyncio, collections, ipaddress, json, math, os, socket, stat, struct, time")
	line("from tornado import web")
	line("")
	line("_WOD_DELAY_AFTER = %d  # failures of a user name from an address, then its attempts wait (0: never)", t.delayAfter)
	line("_WOD_BLOCK_AFTER = %d  # failures of a user name from an address, then it is refused there (0: never)", t.blockAfter)
	line("_WOD_ADDRESS_BLOCK_AFTER = %d  # failures from an address, any names, then it is refused (0: never)", t.addressBlockAfter)
	line("_WOD_BLOCK_FOR = %s  # seconds; also how far back failures count", blockFor)
	line("_WOD_MAX_DELAY = %s", maxDelay)
	line("_WOD_ADDRESS_SLOTS = %d  # attempts of one address in PAM at once", addressPAMSlots)
	line("_WOD_MAX_KEYS = %d", maxThrottledKeys)
	line("_WOD_MAX_WAITING_NAME = %d  # attempts of one user name and address waiting their turn", maxWaitingPerName)
	line("_WOD_MAX_WAITING_ADDRESS = %d", maxWaitingPerAddress)
	line("_WOD_EXEMPT = [ipaddress.ip_network(n) for n in %s]", pyStrList(t.exempt))
	line("_wod_now = time.monotonic")
	line("_wod_sleep = asyncio.sleep")
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
	line("def _wod_refusal(seconds, scope):")
	line("    minutes = max(1, math.ceil(seconds / 60))")
	line("    text = %s if scope == %s else %s", pyStr(refusalUser), pyStr("user"), pyStr(refusalAddress))
	line("    e = web.HTTPError(429, text, minutes, %s if minutes == 1 else %s)", pyStr(""), pyStr("s"))
	line("    e.headers = {%s: str(math.ceil(seconds))}", pyStr("Retry-After"))
	line("    return e")
	line("")
	line("def _wod_busy():")
	line("    e = web.HTTPError(429, %s)", pyStr(refusalBusy))
	line("    e.headers = {%s: %s}", pyStr("Retry-After"), pyStr(fmt.Sprint(busyRetryAfter)))
	line("    return e")
	line("")
	line("class _WodCount:")
	line("    # One key's failures over the last _WOD_BLOCK_FOR (an address's, or an")
	line("    # address and user name's), its attempts in PAM, and those waiting for them.")
	line("    __slots__ = (%s, %s, %s, %s)", pyStr("failures"), pyStr("running"), pyStr("blocked_until"), pyStr("waiters"))
	line("    def __init__(self, keep):")
	line("        self.failures = collections.deque(maxlen=keep + 8)")
	line("        self.running = 0")
	line("        self.blocked_until = 0.0")
	line("        self.waiters = []")
	line("    def count(self, now):")
	line("        while self.failures and self.failures[0] <= now - _WOD_BLOCK_FOR:")
	line("            self.failures.popleft()")
	line("        return len(self.failures)")
	line("    def wake(self):")
	line("        for f in self.waiters:")
	line("            if not f.done():")
	line("                f.set_result(None)")
	line("        self.waiters.clear()")
	line("")
	line("def _wod_entry(table, key, keep):")
	line("    # Forgetting a busy pair early gives back at most what the address's")
	line("    # limit still bounds.")
	line("    st = table.get(key)")
	line("    if st is None:")
	line("        st = table[key] = _WodCount(keep)")
	line("        while len(table) > _WOD_MAX_KEYS:")
	line("            table.popitem(last=False)")
	line("    else:")
	line("        table.move_to_end(key)")
	line("    return st")
	line("")
	return nil
}

// renderMethods writes the throttle's methods into the authenticator class
// (indented one level). get_authenticated_user wraps every password check:
// authenticate, the group check, and the API's password-for-token route.
func (t loginThrottle) renderMethods(line func(string, ...any)) {
	line("    _wod_addresses = None")
	line("    _wod_pairs = None")
	line("")
	line("    async def get_authenticated_user(self, handler, data):")
	line("        key = _wod_client(handler) if handler is not None else %s", pyStr("unknown"))
	line("        if key is None:")
	line("            return await super().get_authenticated_user(handler, data)")
	line("        user = str((data or {}).get(%s, %s))[:64]  # never the password", pyStr("username"), pyStr(""))
	line("        if self._wod_addresses is None:")
	line("            self._wod_addresses = collections.OrderedDict()")
	line("            self._wod_pairs = collections.OrderedDict()")
	line("        addr = _wod_entry(self._wod_addresses, key, _WOD_ADDRESS_BLOCK_AFTER)")
	line("        self._wod_refuse_blocked(addr, key, user, %s)  # before it makes a pair", pyStr("address"))
	line("        pair = _wod_entry(self._wod_pairs, (key, user.lower()), max(_WOD_DELAY_AFTER, _WOD_BLOCK_AFTER))")
	line("        # One attempt of a user name from an address at a time: its count is exact.")
	line("        await self._wod_enter(pair, 1, _WOD_BLOCK_AFTER, _WOD_MAX_WAITING_NAME, key, user, %s)", pyStr("user"))
	line("        failed = None  # PAM not asked")
	line("        try:")
	line("            prior = pair.count(_wod_now())")
	line("            if _WOD_DELAY_AFTER and prior >= _WOD_DELAY_AFTER:")
	line("                await _wod_sleep(min(2 ** (prior - _WOD_DELAY_AFTER), _WOD_MAX_DELAY))")
	line("            await self._wod_enter(addr, _WOD_ADDRESS_SLOTS, _WOD_ADDRESS_BLOCK_AFTER, _WOD_MAX_WAITING_ADDRESS, key, user, %s)", pyStr("address"))
	line("            failed = True")
	line("            try:")
	line("                authenticated = await super().get_authenticated_user(handler, data)")
	line("                failed = authenticated is None")
	line("                return authenticated")
	line("            finally:")
	line("                if failed:")
	line("                    _wod_audit(%s, key, user)", pyStr("failed"))
	line("                self._wod_leave(addr, failed, False, _WOD_ADDRESS_BLOCK_AFTER, key, user, %s)", pyStr("address"))
	line("        finally:")
	line("            # A success clears its name's failures from this address only.")
	line("            self._wod_leave(pair, failed, failed is False, _WOD_BLOCK_AFTER, key, user, %s)", pyStr("user"))
	line("")
	line("    def _wod_refuse_blocked(self, st, key, user, scope):")
	line("        now = _wod_now()")
	line("        if st.blocked_until > now:")
	line("            _wod_audit(%s, key, user, scope=scope)", pyStr("refused"))
	line("            raise _wod_refusal(st.blocked_until - now, scope)")
	line("")
	line("    async def _wod_enter(self, st, slots, limit, waiting, key, user, scope):")
	line("        # Only finished failures count; an attempt goes on while those under")
	line("        # way could all fail without reaching the limit, else it waits for one.")
	line("        while True:")
	line("            self._wod_refuse_blocked(st, key, user, scope)")
	line("            n = st.count(_wod_now())")
	line("            if limit and n >= limit:  # unreachable: the last failure blocked it")
	line("                self._wod_block(st, n, key, user, scope)")
	line("                continue")
	line("            if st.running < slots and (not limit or n + st.running < limit):")
	line("                st.running += 1")
	line("                return")
	line("            if len(st.waiters) >= waiting:")
	line("                raise _wod_busy()")
	line("            w = asyncio.get_running_loop().create_future()")
	line("            st.waiters.append(w)")
	line("            await w")
	line("")
	line("    def _wod_leave(self, st, failed, reset, limit, key, user, scope):")
	line("        st.running -= 1")
	line("        if failed:")
	line("            now = _wod_now()")
	line("            st.count(now)")
	line("            st.failures.append(now)")
	line("            n = len(st.failures)")
	line("            if limit and n >= limit and st.blocked_until <= now:")
	line("                self._wod_block(st, n, key, user, scope)")
	line("        elif reset:")
	line("            st.failures.clear()")
	line("        st.wake()")
	line("")
	line("    def _wod_block(self, st, n, key, user, scope):")
	line("        st.blocked_until = _wod_now() + _WOD_BLOCK_FOR")
	line("        st.failures.clear()")
	line("        if scope == %s:", pyStr("user"))
	line("            self.log.warning(%s, user, key, _WOD_BLOCK_FOR, n)", pyStr("wod: user %r refused from %s for %d s after %d failed logins"))
	line("        else:")
	line("            self.log.warning(%s, key, _WOD_BLOCK_FOR, n)", pyStr("wod: %s refused for %d s after %d failed logins"))
	line("        _wod_audit(%s, key, user, failures=n, seconds=_WOD_BLOCK_FOR, scope=scope)", pyStr("blocked"))
	line("")
}
