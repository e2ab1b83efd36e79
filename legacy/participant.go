package legacy

import (
	"crypto/rand"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wod-dev/wod/mail"
)

// isCommandSubject tells a command mail from a participant mail: the
// api-db's command subjects start with a verb, its participant mails'
// never do ("<brand> Workshops-on-Demand credentials", …). A mistyped
// command is still a command, refused with the reason, never relayed.
func isCommandSubject(subject string) bool {
	verb, _, _ := strings.Cut(strings.TrimSpace(subject), " ")
	switch Verb(strings.ToUpper(verb)) {
	case Create, Cleanup, Reset, Purge:
		return true
	}
	return subject == ""
}

// parseParticipantMail reads a participant mail as the api-db writes it
// without SendGrid (reference §2.8): a Subject, then the HTML-stripped
// text, LF line ends, no blank line between them. Its other headers are
// not kept: the relayed mail gets its own From, To, Date and Message-ID.
func parseParticipantMail(raw []byte) (subject, text string, err error) {
	subject, body := splitMessage(raw)
	if subject == "" {
		return "", "", errors.New("no Subject")
	}
	// The original's end of data, when the reader did not take it.
	for len(body) > 0 && (body[len(body)-1] == "" || body[len(body)-1] == ".") {
		body = body[:len(body)-1]
	}
	text = strings.Join(body, "\n")
	if strings.TrimSpace(text) == "" {
		return "", "", errors.New("no text")
	}
	return subject, text + "\n", nil
}

// participantAddress checks a recipient of a participant mail: one plain
// address in a domain that is not this backend's (a mail to this host is a
// command mail, never relayed).
func participantAddress(rcpt string, local []string) (string, error) {
	a, err := netmail.ParseAddress(rcpt)
	if err != nil || a.Address != strings.TrimSpace(rcpt) {
		return "", fmt.Errorf("%q is not a plain e-mail address", truncate(rcpt, 80))
	}
	at := strings.LastIndexByte(a.Address, '@')
	domain := strings.ToLower(a.Address[at+1:])
	if at < 1 || domain == "" || strings.HasPrefix(domain, "[") || !strings.Contains(domain, ".") {
		return "", fmt.Errorf("%q is not an address of a mail domain", truncate(rcpt, 80))
	}
	if domain == "localhost" || strings.HasSuffix(domain, ".localhost") || containsFold(local, domain) {
		return "", fmt.Errorf("%q is an address of this backend, not a participant's", truncate(rcpt, 80))
	}
	return a.Address, nil
}

// relay takes a participant mail for the site's relay, or refuses it as
// the original's Postfix refused a relay from outside its networks (554
// 5.7.1). Only the api-db's sender, from a connection the intake admitted,
// to one address outside this backend, gets through: never an open relay.
func (s *intakeSession) relay(data []byte) error {
	in := s.in
	log := in.logger().With("remote", s.remote, "from", s.from, "to", s.rcpts)
	denied := func(why string) error {
		log.Warn("legacy participant mail refused", "reason", why)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay access denied: " + oneLine(why)}
	}
	switch {
	case in.Relay == nil:
		log.Error("legacy participant mail refused: this backend has no SMTP relay (--smtp-host); the participant will not get it")
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay access denied: this backend relays no mail"}
	case len(in.Senders) == 0 || !containsFold(in.Senders, s.from):
		return denied("only the api-db's sender may send participant mails")
	case len(s.rcpts) != 1:
		return denied(fmt.Sprintf("a participant mail goes to one participant, not %d recipients", len(s.rcpts)))
	}
	to, err := participantAddress(s.rcpts[0], in.LocalDomains)
	if err != nil {
		return denied(err.Error())
	}
	subject, text, err := parseParticipantMail(data)
	if err != nil {
		log.Warn("legacy participant mail refused", "error", err)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: oneLine(err.Error())}
	}
	m := &Relayed{ReceivedAt: time.Now().UTC(), Remote: s.remote, Message: mail.Message{From: s.from, To: to,
		Subject: subject, Text: text, MessageID: messageID(s.from)}}
	if err := in.Relay.Add(m); err != nil {
		log.Error("legacy participant mail not kept", "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot keep the mail now; try again"}
	}
	log.Info("legacy participant mail accepted for the relay", "subject", subject, "message_id", m.Message.MessageID)
	return nil
}

// messageID is fixed when the mail is kept, so that a mail sent again
// after a crash is known for the same one.
func messageID(sender string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(sender, '@'); at >= 0 && at < len(sender)-1 {
		domain = sender[at+1:]
	}
	return strings.ToLower(rand.Text()) + "@" + domain
}
