package legacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Intake is the SMTP server that takes the api-db's command mails (the
// original's Postfix on port 10025 and its procmail recipes). Unlike the
// original, it takes them only from the allowed networks, never from a
// process of this host other than root's (and SenderUIDs'), and, when
// Senders is set, from those senders; a mail it cannot read is refused
// with the reason, and one it accepts is in the spool before it says so.
// The api-db's participant mails go to Relay, under the same checks and
// more (see relay): it is never an open relay.
//
// Every participant has a shell on this host, so a connection from this
// host is only as good as the process that made it: before the greeting,
// while the sender still holds its socket, the intake looks its end up in
// the kernel's socket tables (LocalPeer) and refuses any uid but root's and
// SenderUIDs' — a student's above all, whatever address it connected from
// (loopback, or one of the host's own). A local end it cannot identify is
// refused too. A refusal is a 554 greeting, a log line and an Audit event.
type Intake struct {
	Spool *Spool
	// Allow lists the networks that may send commands.
	Allow []netip.Prefix
	// SenderUIDs are the local accounts, besides root, whose processes may
	// send commands (a Postfix of this host relaying to the intake, say).
	// Never a student's: see CheckSenderUIDs.
	SenderUIDs []int
	// Audit, if set, is told of every refused connection (kind
	// "legacy.refused"), besides the log.
	Audit func(ctx context.Context, kind, detail string) error
	// Senders, if not empty, are the envelope senders accepted (the
	// original's WODSENDER), compared without case.
	Senders []string
	// Accepted is called after a mail's commands are spooled.
	Accepted func()
	// Domain is the name in the greeting.
	Domain string
	// Relay, if set, takes the api-db's participant mails (those whose
	// subject is no command) for the site's SMTP relay; without it they
	// are refused. Only Senders may send them (the intake refuses to relay
	// without Senders), each to one recipient outside LocalDomains.
	Relay *Relay
	// LocalDomains are this backend's mail domains (its host names): a
	// mail to them is a command mail, never relayed.
	LocalDomains []string
	Logger       *slog.Logger
}

// maxMail bounds a mail: a command is a subject and a folder name, a
// participant mail a page of text.
const maxMail = 256 << 10

// Serve answers on ln until ctx ends.
func (in *Intake) Serve(ctx context.Context, ln net.Listener) error {
	s := smtp.NewServer(&intakeBackend{in: in})
	s.Domain = in.Domain
	if s.Domain == "" {
		s.Domain = "localhost"
	}
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.MaxMessageBytes = maxMail
	s.MaxRecipients = 10
	s.ErrorLog = smtpErrorLog{in.logger()}
	// Closed when ctx ends; the callback goes when Serve returns first.
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.Serve(eagerListener{Listener: ln, admit: func(c net.Conn) error { return in.admit(ctx, c) }})
	if ctx.Err() != nil || errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// smtpErrorLog takes the SMTP server's own error log (failed accepts, a
// connection's error, a handler's panic) into the intake's.
type smtpErrorLog struct{ log *slog.Logger }

func (l smtpErrorLog) Printf(format string, v ...any) {
	l.log.Warn("legacy mail intake: "+strings.TrimRight(fmt.Sprintf(format, v...), "\n"), "src", "smtp")
}

func (l smtpErrorLog) Println(v ...any) {
	l.log.Warn("legacy mail intake: "+strings.TrimRight(fmt.Sprintln(v...), "\n"), "src", "smtp")
}

type intakeBackend struct{ in *Intake }

// NewSession comes after the greeting, which only an admitted connection
// gets (eagerConn).
func (b *intakeBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &intakeSession{in: b.in, remote: c.Conn().RemoteAddr().String()}, nil
}

func (in *Intake) allowed(a netip.Addr) bool {
	for _, p := range in.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (in *Intake) logger() *slog.Logger {
	if in.Logger != nil {
		return in.Logger
	}
	return slog.New(slog.DiscardHandler)
}

type intakeSession struct {
	in     *Intake
	remote string
	from   string
	rcpts  []string
}

func (s *intakeSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.in.Senders) > 0 && !containsFold(s.in.Senders, from) {
		s.in.logger().Warn("legacy command mail refused: unknown sender (--legacy-mail-from)", "remote", s.remote, "from", from)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "this sender may not send commands"}
	}
	s.from = from
	return nil
}

func (s *intakeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *intakeSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	// The original ends its data with a bare "\n.\n" and hangs up: the
	// reader, waiting for "\r\n.\r\n", meets the end of the connection
	// (or its reset: the original closes with our greeting unread).
	if err != nil && lfTerminated(data) {
		err = nil
	}
	if err != nil {
		return err
	}
	if subject, _ := splitMessage(data); !isCommandSubject(subject) {
		return s.relay(data)
	}
	cmds, err := ParseMessage(data)
	if err != nil {
		s.in.logger().Warn("legacy command mail refused", "remote", s.remote, "from", s.from, "error", err)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: oneLine(err.Error())}
	}
	entries := make([]*Entry, len(cmds))
	now := time.Now().UTC()
	for i, c := range cmds {
		entries[i] = &Entry{Command: c, ReceivedAt: now, From: s.from, Remote: s.remote}
	}
	if err := s.in.Spool.Add(entries...); err != nil {
		s.in.logger().Error("legacy command mail not kept", "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot keep the command now; try again"}
	}
	s.in.logger().Info("legacy command mail accepted", "remote", s.remote, "command", cmds[0].Verb,
		"students", len(cmds), "student", cmds[0].Student, "customer", cmds[0].Customer, "notebook", cmds[0].Notebook)
	if s.in.Accepted != nil {
		s.in.Accepted()
	}
	return nil
}

func (s *intakeSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *intakeSession) Logout() error { return nil }

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ParseNetworks reads CIDR prefixes or single addresses.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// Peers are compared in their IPv4 form: so are ::ffff:a.b.c.d
		// networks.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// eagerListener's connections read what the client sent before the
// greeting. The original api-db writes its whole conversation at once and
// closes the connection as soon as the greeting arrives, with the greeting
// unread: the reset that follows may discard what the kernel still holds
// for us. Reading it first keeps it. A client that waits for the greeting,
// as SMTP wants, costs the wait of the first read.
type eagerListener struct {
	net.Listener
	// admit decides, before the greeting, whether the connection may
	// speak; its error is the reason it may not.
	admit func(net.Conn) error
}

const eagerWait = 50 * time.Millisecond

func (l eagerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &eagerConn{Conn: c, admit: l.admit}, nil
}

type eagerConn struct {
	net.Conn
	admit   func(net.Conn) error
	early   []byte
	greeted bool
}

// refusal is the greeting of a connection that may not send commands
// (RFC 5321 §3.1: 554, no SMTP service here).
const refusal = "554 5.7.1 this connection may not send commands\r\n"

// closeAfterRefusal closes a refused connection so that its client reads
// the refusal: a sender that writes its whole mail at once (as the
// original's api-db does) may still be writing, and closing a socket with
// unread data makes the kernel answer with a reset, which loses the 554 on
// the client's side. The write side closes first; what the client still
// sends is read and dropped for a moment.
func closeAfterRefusal(conn net.Conn) {
	defer conn.Close()
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tcp.CloseWrite()
	_ = tcp.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(tcp, 1<<16))
}

func (c *eagerConn) Write(b []byte) (int, error) {
	if !c.greeted {
		c.greeted = true
		// Admission runs in the connection's own goroutine, so a slow
		// look-up never holds up the other connections' accepts.
		if c.admit != nil {
			if err := c.admit(c.Conn); err != nil {
				_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c.Conn, refusal)
				closeAfterRefusal(c.Conn)
				return 0, err
			}
		}
		c.readEarly()
	}
	return c.Conn.Write(b)
}

// readEarly takes what arrives within eagerWait, then whatever follows
// without a pause.
func (c *eagerConn) readEarly() {
	buf := make([]byte, 4096)
	wait := eagerWait
	for len(c.early) < maxMail {
		_ = c.Conn.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Conn.Read(buf)
		c.early = append(c.early, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
		wait = 5 * time.Millisecond
	}
	_ = c.Conn.SetReadDeadline(time.Time{})
}

func (c *eagerConn) Read(b []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(b, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
