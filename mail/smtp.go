package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Security modes of an SMTP connection.
const (
	// SecurityStartTLS upgrades a plain connection with STARTTLS, and
	// refuses to send when the server does not offer it (the default).
	SecurityStartTLS = "starttls"
	// SecurityTLS speaks TLS from the first byte (SMTPS, port 465).
	SecurityTLS = "tls"
	// SecurityNone sends in clear: for a relay on the same machine or a
	// test server only.
	SecurityNone = "none"
)

// DefaultSMTPTimeout bounds each exchange with the server.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig says how to reach the SMTP relay.
type SMTPConfig struct {
	Host string
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int
	// Security is "starttls" (default), "tls" or "none".
	Security string
	// Username enables SMTP AUTH, with the first of PLAIN, LOGIN,
	// SCRAM-SHA-256, SCRAM-SHA-1 and CRAM-MD5 that the server offers.
	Username string
	Password string
	// HELO is the name given in EHLO (default: this machine's host name).
	HELO string
	// Timeout bounds connecting and each command (default 30 s); the
	// context given to Send bounds the whole delivery.
	Timeout time.Duration
	// InsecureSkipVerify accepts any server certificate: for self-signed
	// test servers only.
	InsecureSkipVerify bool
}

// String describes the configuration without its password, so that a
// configuration printed or logged by mistake does not leak it.
func (c SMTPConfig) String() string {
	auth := ""
	if c.Username != "" {
		auth = c.Username + "@"
	}
	return fmt.Sprintf("smtp://%s%s (%s)", auth, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Security)
}

// LogValue logs the configuration without its password.
func (c SMTPConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SMTP sends mail through an SMTP relay, one connection per message (mail
// is rare here: a few per registration, and a held connection would only
// time out between them). It is safe for concurrent use.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP checks cfg and fills its defaults in.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	cfg.Security = strings.ToLower(strings.TrimSpace(cfg.Security))
	if cfg.Security == "" {
		cfg.Security = SecurityStartTLS
	}
	var errs []error
	switch {
	case cfg.Host == "":
		errs = append(errs, errors.New("smtp host is required"))
	case strings.Contains(cfg.Host, "://") || strings.ContainsAny(cfg.Host, " /\r\n"):
		errs = append(errs, fmt.Errorf("smtp host %q: want a host name or IP address, without scheme or port", cfg.Host))
	}
	if strings.HasPrefix(cfg.Host, "[") && strings.HasSuffix(cfg.Host, "]") {
		cfg.Host = cfg.Host[1 : len(cfg.Host)-1] // [::1] → ::1; JoinHostPort adds the brackets back
	}
	switch cfg.Security {
	case SecurityStartTLS, SecurityTLS, SecurityNone:
	default:
		errs = append(errs, fmt.Errorf("smtp security %q: want starttls, tls or none", cfg.Security))
	}
	if cfg.Port == 0 {
		switch cfg.Security {
		case SecurityTLS:
			cfg.Port = 465
		case SecurityNone:
			cfg.Port = 25
		default:
			cfg.Port = 587
		}
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp port %d: want 1 to 65535", cfg.Port))
	}
	if cfg.Password != "" && cfg.Username == "" {
		errs = append(errs, errors.New("smtp password is set but not the username"))
	}
	if cfg.Username != "" && cfg.Security == SecurityNone && !isLoopback(cfg.Host) {
		errs = append(errs, fmt.Errorf("smtp security none would send the password in clear to %s: use starttls or tls", cfg.Host))
	}
	if strings.ContainsAny(cfg.HELO, " \t\r\n") {
		errs = append(errs, fmt.Errorf("smtp HELO name %q: must be one word", cfg.HELO))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("smtp timeout %s: must not be negative", cfg.Timeout))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &SMTP{cfg: cfg}, nil
}

// isLoopback matches the names go-mail accepts PLAIN and LOGIN over a clear
// connection for.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String describes the relay, without the password.
func (s *SMTP) String() string { return s.cfg.String() }

func (s *SMTP) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// Send delivers m. Invalid addresses and 5xx replies (including refused
// authentication) give a *PermanentError; connection failures, timeouts,
// 4xx replies and a missing STARTTLS give a plain error, worth retrying.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	if m == nil {
		return permanent(errors.New("smtp: no message"))
	}
	msg, err := buildMessage(m)
	if err != nil {
		return permanent(fmt.Errorf("mail to %q: %w", m.To, err))
	}
	client, done, err := s.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		// The server took the message; a failure after that (RSET, QUIT)
		// must not make the dispatcher send a second copy.
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %w (%v)", s.addr(), context.Cause(ctx), err)
	}
	return classify(fmt.Errorf("smtp %s: %w", s.addr(), err))
}

// Verify connects to the relay as Send would (TLS or STARTTLS, the
// greeting, authentication) and quits without sending anything: `wod check`
// finds a wrong port, certificate or password before a participant waits
// for a mail.
func (s *SMTP) Verify(ctx context.Context) error {
	client, done, err := s.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := client.DialWithContext(ctx); err != nil {
		return fmt.Errorf("smtp %s: %w", s.addr(), err)
	}
	return client.Close()
}

// client returns a go-mail client for one delivery, and the function that
// closes whatever connection it opened: go-mail leaves the connection open
// when the handshake, STARTTLS or AUTH fails, and whatever happened, it is
// of no more use.
func (s *SMTP) client(ctx context.Context) (*gomail.Client, func(), error) {
	var watched []*ctxConn
	done := func() {
		for _, c := range watched {
			c.release()
			_ = c.Close()
		}
	}
	client, err := gomail.NewClient(s.cfg.Host, s.options(s.dialer(ctx, &watched))...)
	if err != nil {
		return nil, done, fmt.Errorf("smtp %s: %w", s.addr(), err)
	}
	return client, done, nil
}

// dialer connects, ties the connection to ctx (go-mail only uses a context
// to dial, not for the commands that follow) and records it in watched for
// Send to release. In "tls" mode it also makes the TLS handshake, since
// go-mail leaves TLS to a custom dialer.
func (s *SMTP) dialer(ctx context.Context, watched *[]*ctxConn) gomail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: s.cfg.Timeout}
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := watch(ctx, raw)
		*watched = append(*watched, c)
		if s.cfg.Security != SecurityTLS {
			return c, nil
		}
		tc := tls.Client(c, s.tlsConfig())
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
}

func (s *SMTP) options(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithoutNoop(), // the connection is fresh, a NOOP proves nothing
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.Security == SecurityStartTLS {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(s.tlsConfig()))
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS)) // "tls" is TLS already; "none" is clear on purpose
	}
	if s.cfg.Username != "" {
		// Preferred order, not auto-discovery: go-mail's discovery skips
		// PLAIN and LOGIN on connections it did not encrypt itself, which
		// includes the "tls" mode's. PLAIN and LOGIN still refuse a clear
		// connection to anything but the loopback.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         s.cfg.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.cfg.InsecureSkipVerify, // the operator's explicit choice, for test servers
	}
}

// buildMessage makes the MIME message: multipart/alternative with a
// text/plain and a text/html part in UTF-8 (text only without HTML), From,
// To, Subject, Date, Message-ID and Auto-Submitted, which tells
// well-behaved servers not to answer with out-of-office replies.
func buildMessage(m *Message) (*gomail.Msg, error) {
	from, err := netmail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("sender address %q: %w", m.From, err)
	}
	to, err := netmail.ParseAddressList(m.To)
	if err != nil {
		return nil, fmt.Errorf("recipient address %q: %w", m.To, err)
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("the message has no body")
	}
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(m.MessageID), "<"), ">")
	if id == "" {
		id = newMessageID(from.Address)
	} else if strings.ContainsAny(id, "<> \t\r\n") || !strings.Contains(id, "@") {
		return nil, fmt.Errorf("message ID %q: want left@right", m.MessageID)
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	msg.ToMailAddress(to...)
	msg.Subject(OneLine(m.Subject))
	msg.SetDate()
	msg.SetMessageIDWithValue(id)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "All")
	switch {
	case m.HTML == "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	case m.Text == "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// newMessageID returns "random@domain", the domain being the sender's, as
// RFC 5322 suggests, so that the ID is unique without knowing our host name.
func newMessageID(sender string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(sender, '@'); at >= 0 && at < len(sender)-1 {
		domain = sender[at+1:]
	}
	return strings.ToLower(rand.Text()) + "@" + domain
}

// classify marks the errors that retrying cannot fix as permanent: a 5xx
// reply at any stage (a refused recipient, sender or authentication), an
// address go-mail could not use, and authentication that cannot even start
// (it would fail the same way next time). Anything else (connection refused
// or reset, timeouts, 4xx replies, TLS trouble) is temporary.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts || is5xx(se.ErrorCode()) {
			return permanent(err)
		}
		return err
	}
	var te *textproto.Error
	if errors.As(err, &te) && is5xx(te.Code) {
		return permanent(err)
	}
	for _, p := range []error{gosmtp.ErrUnencrypted, gosmtp.ErrWrongHostname,
		gomail.ErrNoSupportedAuthDiscovered, gomail.ErrPlainAuthNotSupported, gomail.ErrLoginAuthNotSupported} {
		if errors.Is(err, p) {
			return permanent(err)
		}
	}
	return err
}

func is5xx(code int) bool { return code >= 500 && code < 600 }
