package preflight

import (
	"context"
	"time"

	"github.com/wod-dev/wod/mail"
)

// checkMail renders every kind of mail with the templates and branding,
// and connects (and logs in) to the SMTP relay without sending anything.
func (c *Checker) checkMail(ctx context.Context, add addCheck) {
	mc := c.Config.Mail
	if _, err := mail.NewRenderer(c.Config.MailBranding(), mc.Templates); err != nil {
		add("mail templates", Fail, "%v", err)
	} else if mc.Templates != "" {
		add("mail templates", OK, "%s render every kind of mail", mc.Templates)
	}
	if mc.SMTPHost == "" {
		add("smtp", Warn, "no --smtp-host: mails stay in the outbox, for operators to read at /admin/mails")
		return
	}
	smtp, err := mail.NewSMTP(mail.SMTPConfig{Host: mc.SMTPHost, Port: mc.SMTPPort, Security: mc.SMTPSecurity,
		Username: mc.SMTPUsername, Password: mc.SMTPPassword, Timeout: mc.SMTPTimeout})
	if err != nil {
		add("smtp", Fail, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, mc.SMTPTimeout+5*time.Second)
	defer cancel()
	if err := smtp.Verify(ctx); err != nil {
		add("smtp", Fail, "%v", err)
		return
	}
	what := "the connection"
	if mc.SMTPUsername != "" {
		what = "the connection and the login"
	}
	add("smtp", OK, "%s accepts %s", smtp, what)
}
