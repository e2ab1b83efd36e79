package legacy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/testenv"
)

// studentAccount creates a Unix account standing for a participant with a
// shell on the hub host, on uids no other test or wod up uses.
func studentAccount(t *testing.T) (uid int) {
	t.Helper()
	testenv.Root(t, "this test creates a Unix account")
	const name = "wodtest-legacy"
	exec.Command("userdel", name).Run() // a crashed run's
	for uid = 63500; uid < 63600; uid++ {
		if _, err := user.LookupId(strconv.Itoa(uid)); err != nil {
			break
		}
	}
	if out, err := exec.Command("useradd", "-M", "-N", "-g", "65534", "-s", "/bin/sh", "-u", strconv.Itoa(uid), name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	return uid
}

// syncBuffer is a log destination the intake's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// purgeMail is what a student would send to free another's seat, written
// the way the original api-db writes it: all at once.
const purgeMail = "HELO student\r\nMAIL FROM:<wod@example.org>\r\nRCPT TO:<wod@backend>\r\nDATA\r\n" +
	"Subject: PURGE 7 1\r\n\r\nWKSHP-API101\r\n.\r\nQUIT\r\n"

// sendAs sends purgeMail to addr from a bash of uid (-1: root's own), over
// TCP, and returns what the intake answered.
func sendAs(t *testing.T, uid int, addr netip.AddrPort) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d || exit 1\nprintf '%%s' \"$MAIL\" >&3\ncat <&3\n", addr.Addr(), addr.Port())
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "MAIL=" + purgeMail}
	cmd.Dir = "/"
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "554") {
		t.Fatalf("bash as uid %d: %v: %s", uid, err, out)
	}
	return string(out)
}

// A participant has a shell on the hub host: their PURGE, sent over
// loopback or to the host's own address, both in --legacy-mail-allow, is
// refused, logged with their uid and reported; root's same mail is taken.
func TestIntakeRefusesStudentProcesses(t *testing.T) {
	student := studentAccount(t)
	allow := loopback()
	targets := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	// The host's own non-loopback addresses are where a student's
	// connection looks like another machine's.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
				allow = append(allow, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
				targets = append(targets, p.Addr())
			}
		}
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	spool := newSpool(t)
	logs := &syncBuffer{}
	var mu sync.Mutex
	var audits []string
	in := &legacy.Intake{Spool: spool, Allow: allow, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Audit: func(_ context.Context, kind, detail string) error {
			mu.Lock()
			defer mu.Unlock()
			audits = append(audits, kind+": "+detail)
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, target := range targets {
		to := netip.AddrPortFrom(target, port)
		if out := sendAs(t, student, to); !strings.HasPrefix(out, "554 5.7.1") || strings.Contains(out, "250") {
			t.Errorf("the student's PURGE to %s was answered %q, want a 554 greeting and nothing else", to, out)
		}
	}
	if es, errs := spool.Entries(); len(es) != 0 || len(errs) != 0 {
		t.Fatalf("the student's commands reached the spool: %v %v", es, errs)
	}
	wantUID := fmt.Sprintf("uid=%d", student)
	if n := strings.Count(logs.String(), wantUID); n != len(targets) {
		t.Errorf("%d refusals logged with %s, want %d:\n%s", n, wantUID, len(targets), logs)
	}
	mu.Lock()
	if len(audits) != len(targets) || !strings.Contains(audits[0], "legacy.refused") ||
		!strings.Contains(audits[0], fmt.Sprintf("uid %d, wodtest-legacy", student)) {
		t.Errorf("audit events: %q", audits)
	}
	mu.Unlock()

	// The same mail from root goes through.
	out := sendAs(t, -1, netip.AddrPortFrom(targets[0], port))
	if !strings.HasPrefix(out, "220 ") || !strings.Contains(out, "250 2.0.0") {
		t.Errorf("root's PURGE was answered %q", out)
	}
	if es := waitEntries(t, spool, 1); es[0].Command.Verb != legacy.Purge || es[0].Command.Student != 7 {
		t.Errorf("spooled %+v", es[0])
	}
}

// A sender that closes its end before the greeting leaves a socket no
// process owns (listed as root's): it is not taken for root.
func TestLocalPeerOfAClosedSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	local := server.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := server.RemoteAddr().(*net.TCPAddr).AddrPort()

	uid, found, err := legacy.LocalPeer(local, remote)
	if err != nil || !found || uid != os.Geteuid() {
		t.Fatalf("open peer: uid %d, found %v, %v; want ours (%d)", uid, found, err, os.Geteuid())
	}
	client.Close()
	if _, err := server.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after the peer closed")
	}
	if uid, found, err := legacy.LocalPeer(local, remote); err == nil || !found {
		t.Fatalf("closed peer: uid %d, found %v, %v; want an error", uid, found, err)
	}
	// A peer on another machine is not found.
	other := netip.MustParseAddrPort("192.0.2.200:40000")
	if _, found, err := legacy.LocalPeer(local, other); found || err != nil {
		t.Fatalf("remote peer: found %v, %v", found, err)
	}
}

func TestCheckAllow(t *testing.T) {
	app := map[string]netip.Addr{"IP-WKSHP-Docker101": netip.MustParseAddr("10.1.2.10")}
	for _, ok := range []string{"127.0.0.0/8", "::1", "10.0.0.12", "192.168.0.0/16", "203.0.113.0/24",
		"2001:db8::/48", "fd00::/8", "172.16.0.0/12", "10.1.2.0/29", "10.1.3.0/24"} {
		if err := legacy.CheckAllow(mustNetworks(t, ok), app); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0/0", "::/0", "0.0.0.0", "::", "203.0.0.0/16", "2001:db8::/32",
		"10.1.2.10", "10.1.2.0/24", "10.1.2.200", "10.0.0.0/8 overlapping", "::ffff:0.0.0.0/96"} {
		nets := strings.Fields(bad)[0]
		appliances := map[string]netip.Addr{}
		if strings.HasPrefix(nets, "10.") {
			appliances = app
		}
		if err := legacy.CheckAllow(mustNetworks(t, nets), appliances); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func mustNetworks(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := legacy.ParseNetworks([]string{s})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckSenderUIDs(t *testing.T) {
	student := studentAccount(t)
	if err := legacy.CheckSenderUIDs([]int{0, 65534}, 2000, 100, "wodtest-nogroup"); err != nil {
		t.Errorf("root and nobody refused: %v", err)
	}
	if err := legacy.CheckSenderUIDs([]int{2005}, 2000, 100, "wodtest-nogroup"); err == nil {
		t.Error("a uid of the students' range accepted")
	}
	// A member of the students' group, wherever its uid.
	group := "wodtest-legacy-students"
	exec.Command("groupdel", group).Run()
	if out, err := exec.Command("groupadd", group).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	if out, err := exec.Command("usermod", "-aG", group, "wodtest-legacy").CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v %s", err, out)
	}
	if err := legacy.CheckSenderUIDs([]int{student}, 2000, 100, group); err == nil || !strings.Contains(err.Error(), group) {
		t.Errorf("a member of the students' group: %v", err)
	}
}
