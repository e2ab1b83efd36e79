package preflight

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listener is a TCP socket listening on an address others reach.
type listener struct {
	Port int
	UID  int
}

// firewallRules is what a ruleset says of incoming TCP.
type firewallRules struct {
	Tool string
	// Filters: the input path drops or rejects what it does not accept
	// (a drop policy, or a final drop rule).
	Filters bool
	// Accepted are the destination ports accepted for all.
	Accepted []int
}

// checkFirewall compares the ports open to the network with those the
// roles need: the firewall (nftables, else iptables) read when its tool
// is here, and the listening sockets (/proc/net/tcp*), students' aside.
func (c *Checker) checkFirewall(ctx context.Context, role string, add addCheck) {
	needed := c.neededPorts(role)
	ls := c.listeners()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rules, err := c.readFirewall(ctx)
	first, last := c.studentUIDs()
	status, detail := firewallVerdict(rules, err, ls, needed, first, last)
	add("firewall", status, "%s", detail)
}

// neededPorts are the TCP ports the role serves to others, and SSH.
func (c *Checker) neededPorts(role string) map[int]string {
	ports := map[int]string{22: "ssh"}
	addPort := func(addr, what string) {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 {
				ports[n] = what
			}
		}
	}
	if role != "agent" || c.InProcess { // wod up's agent shares its host with the server
		addPort(c.Config.Addr, "wod server (--addr)")
		addPort(c.Config.MetricsAddr, "metrics (--metrics-addr)")
		ports[80], ports[443] = "http", "https" // a reverse proxy in front of the server
	}
	if role != "server" {
		addPort(c.Config.Agent.HubAddr, "the hub (--hub-addr)")
		if c.Config.Agent.Legacy.API != "" {
			addPort(c.Config.Agent.Legacy.MailAddr, "legacy mail intake")
		}
	}
	return ports
}

func (c *Checker) studentUIDs() (int, int) {
	n := c.Config.Students
	if n <= 0 {
		n = 1000
	}
	return c.Config.Agent.UIDBase + 1, c.Config.Agent.UIDBase + n
}

// readFirewall reads the ruleset with nft, else iptables-save.
func (c *Checker) readFirewall(ctx context.Context) (*firewallRules, error) {
	out, err := c.Host.command(ctx, "nft", "list", "ruleset")
	if err == nil && strings.TrimSpace(string(out)) != "" {
		r := parseNft(string(out))
		return &r, nil
	}
	nftErr := err
	out, err = c.Host.command(ctx, "iptables-save")
	if err == nil {
		r := parseIptables(string(out))
		return &r, nil
	}
	if errors.Is(nftErr, errToolMissing) && errors.Is(err, errToolMissing) {
		return nil, errors.New("neither nft nor iptables-save is installed")
	}
	if nftErr == nil {
		return nil, fmt.Errorf("nftables has no rules, and iptables-save: %v", err)
	}
	return nil, fmt.Errorf("nft: %v; iptables-save: %v", nftErr, err)
}

// listeners reads the TCP sockets listening beyond loopback.
func (c *Checker) listeners() []listener {
	var ls []listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if b, err := c.Host.read(f); err == nil {
			ls = append(ls, parseProcNetTCP(string(b))...)
		}
	}
	return ls
}

// parseProcNetTCP reads /proc/net/tcp{,6}: the listening sockets (state
// 0A) not bound to loopback, with their owner.
func parseProcNetTCP(text string) []listener {
	var ls []listener
	for _, line := range strings.Split(text, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 || f[3] != "0A" {
			continue
		}
		addr, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		raw, err := hex.DecodeString(addr)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		// The kernel prints each 32-bit word in host (little-endian) order.
		ip := make(net.IP, len(raw))
		for i := 0; i < len(raw); i += 4 {
			ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		if ip.IsLoopback() {
			continue
		}
		p, err1 := strconv.ParseInt(port, 16, 32)
		uid, err2 := strconv.Atoi(f[7])
		if err1 != nil || err2 != nil {
			continue
		}
		if !slices.ContainsFunc(ls, func(l listener) bool { return l.Port == int(p) && l.UID == uid }) {
			ls = append(ls, listener{Port: int(p), UID: uid})
		}
	}
	return ls
}

var serviceNames = map[string]int{"ssh": 22, "http": 80, "https": 443, "smtp": 25, "postgresql": 5432}

// ports reads "22", "ssh", "{ 22, 80, 443 }", "8000-8010" (first port
// only of a range: enough to tell it is open) or "80,443".
func ports(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '{' || r == '}' }) {
		f, _, _ = strings.Cut(f, "-")
		f, _, _ = strings.Cut(f, ":")
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		} else if n, ok := serviceNames[f]; ok {
			out = append(out, n)
		}
	}
	return out
}

// parseNft reads `nft list ruleset`: the chains hooked on input, their
// policy, their unconditional drops and the TCP ports they accept.
func parseNft(text string) firewallRules {
	r := firewallRules{Tool: "nftables"}
	input := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain "):
			input = false
		case strings.Contains(line, "hook input"):
			input = true
			if strings.Contains(line, "policy drop") {
				r.Filters = true
			}
		case !input:
		case strings.Contains(line, "dport") && strings.HasSuffix(line, "accept") && !strings.Contains(line, "saddr") &&
			!strings.Contains(line, "iif") && !strings.Contains(line, "udp dport"):
			_, after, _ := strings.Cut(line, "dport ")
			spec := after
			if strings.HasPrefix(after, "{") {
				spec, _, _ = strings.Cut(after, "}")
			} else {
				spec, _, _ = strings.Cut(after, " ")
			}
			r.Accepted = append(r.Accepted, ports(spec)...)
		case unconditional(line, "drop", "reject"):
			r.Filters = true
		}
	}
	return r
}

// unconditional reports a rule that only counts and drops (a final drop).
func unconditional(line string, verdicts ...string) bool {
	f := strings.Fields(line)
	if len(f) == 0 || !slices.Contains(verdicts, f[0]) && f[0] != "counter" {
		return false
	}
	for _, w := range f {
		if slices.Contains(verdicts, w) {
			return true
		}
		if w != "counter" && w != "packets" && w != "bytes" {
			if _, err := strconv.Atoi(w); err != nil {
				return false
			}
		}
	}
	return false
}

// parseIptables reads `iptables-save`: the INPUT policy, its
// unconditional drops and the TCP ports accepted in input chains (INPUT
// and those named after it, as ufw's and firewalld's are).
func parseIptables(text string) firewallRules {
	r := firewallRules{Tool: "iptables"}
	table := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "*") {
			table = line[1:]
			continue
		}
		if table != "filter" {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == ":INPUT" && (f[1] == "DROP" || f[1] == "REJECT") {
			r.Filters = true
			continue
		}
		if len(f) < 2 || f[0] != "-A" || !strings.Contains(strings.ToLower(f[1]), "input") {
			continue
		}
		opt := map[string]string{}
		for i := 2; i < len(f)-1; i++ {
			if strings.HasPrefix(f[i], "-") {
				opt[f[i]] = f[i+1]
			}
		}
		target := opt["-j"]
		if (target == "DROP" || target == "REJECT") && f[1] == "INPUT" && len(opt) == 1 {
			r.Filters = true
			continue
		}
		if target != "ACCEPT" || opt["-s"] != "" || opt["-i"] != "" || opt["-p"] == "udp" {
			continue
		}
		if p := opt["--dport"]; p != "" {
			r.Accepted = append(r.Accepted, ports(p)...)
		}
		if p := opt["--dports"]; p != "" {
			r.Accepted = append(r.Accepted, ports(p)...)
		}
	}
	return r
}

// firewallVerdict: a port others reach that no role needs FAILs (a
// database, a student's service open to the world); a ruleset that cannot
// be read leaves it unknown (WARN).
func firewallVerdict(rules *firewallRules, readErr error, ls []listener, needed map[int]string, first, last int) (Status, string) {
	var listening []int // beyond loopback, the students' own aside
	for _, l := range ls {
		if (l.UID < first || l.UID > last) && !slices.Contains(listening, l.Port) {
			listening = append(listening, l.Port)
		}
	}
	slices.Sort(listening)
	unneeded := func(ps []int) []string {
		var out []string
		for _, p := range ps {
			if _, ok := needed[p]; !ok {
				out = append(out, strconv.Itoa(p))
			}
		}
		return out
	}
	list := func(ps []int) string {
		if len(ps) == 0 {
			return "none"
		}
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = strconv.Itoa(p)
		}
		return strings.Join(s, ", ")
	}
	if rules == nil {
		return Warn, fmt.Sprintf("the firewall is unknown (%v); listening beyond loopback: %s", readErr, list(listening))
	}
	if !rules.Filters {
		if extra := unneeded(listening); len(extra) > 0 {
			return Fail, fmt.Sprintf("%s accepts every incoming connection, and ports no role needs listen: %s "+
				"(drop input by default and accept %s)", rules.Tool, strings.Join(extra, ", "), list(sortedPorts(needed)))
		}
		return Warn, fmt.Sprintf("%s accepts every incoming connection; only the needed ports listen now (%s)",
			rules.Tool, list(listening))
	}
	var open []int
	for _, p := range rules.Accepted {
		if !slices.Contains(open, p) {
			open = append(open, p)
		}
	}
	slices.Sort(open)
	var exposed []string
	for _, p := range unneeded(open) {
		if slices.Contains(listening, atoi(p)) {
			exposed = append(exposed, p)
		}
	}
	if len(exposed) > 0 {
		return Fail, fmt.Sprintf("%s accepts ports no role needs, and they listen: %s", rules.Tool, strings.Join(exposed, ", "))
	}
	var blocked []string
	for _, p := range sortedPorts(needed) {
		if p != 22 && p != 80 && p != 443 && !slices.Contains(open, p) && slices.Contains(listening, p) {
			blocked = append(blocked, fmt.Sprintf("%d (%s)", p, needed[p]))
		}
	}
	if len(blocked) > 0 {
		return Warn, fmt.Sprintf("%s drops by default but does not accept %s: fine behind a proxy, else nobody reaches it",
			rules.Tool, strings.Join(blocked, ", "))
	}
	if extra := unneeded(open); len(extra) > 0 {
		return Warn, fmt.Sprintf("%s accepts ports no role needs (nothing listens there now): %s", rules.Tool, strings.Join(extra, ", "))
	}
	return OK, fmt.Sprintf("%s drops by default and accepts %s", rules.Tool, list(open))
}

func sortedPorts(m map[int]string) []int {
	var ps []int
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
