package app

import (
	"fmt"
	netmail "net/mail"
	"net/url"

	"github.com/wod-dev/wod/mail"
)

// buildCommands lets the engine send the command mails of legacy
// locations (original backends), from the configured sender, as the
// original api-db sent them from WODSENDER.
func (a *App) buildCommands() error {
	from := a.Config.Mail.From
	if from == "" {
		return nil
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return fmt.Errorf("mail from %q: %w", from, err)
	}
	helo := "localhost"
	if u, err := url.Parse(a.Config.PublicURL); err == nil && u.Hostname() != "" {
		helo = u.Hostname()
	}
	a.Engine.Commands = &mail.CommandSender{From: addr.Address, HELO: helo, Timeout: a.Config.Mail.SMTPTimeout}
	return nil
}
