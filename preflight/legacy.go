package preflight

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/wod-dev/wod/legacy"
)

// checkLegacy proves that the original api-db takes the moderator's login
// and that the command mails' address is free to listen on.
func (c *Checker) checkLegacy(ctx context.Context, add addCheck) {
	lc := c.Config.Agent.Legacy
	api := &legacy.APIDB{URL: lc.API, User: lc.User, Password: lc.Password}
	held, err := (&legacy.Bridge{API: api, BaseStudentID: lc.BaseStudentID, Students: lc.Students,
		Spool: &legacy.Spool{Dir: filepath.Join(c.Config.Data, "legacy-mail")}}).HeldSeats(ctx)
	if err != nil {
		add("api-db", Fail, "%v", err)
	} else {
		add("api-db", OK, "%s takes %s's login (%d of this backend's students assigned)", lc.API, lc.User, len(held))
	}
	if _, err := legacy.ParseNetworks(lc.Allow); err != nil {
		add("command mails", Fail, "--legacy-mail-allow: %v", err)
		return
	}
	ln, err := net.Listen("tcp", lc.MailAddr)
	if err == nil {
		ln.Close()
		add("command mails", OK, "%s is free; mails accepted from %s", lc.MailAddr, strings.Join(lc.Allow, ", "))
		return
	}
	if greeting := smtpGreeting(ctx, lc.MailAddr); strings.HasPrefix(greeting, "220 ") {
		add("command mails", OK, "%s answers SMTP (the agent running?): %s", lc.MailAddr, greeting)
		return
	}
	add("command mails", Fail, "cannot listen on %s: %v", lc.MailAddr, err)
}

// smtpGreeting reads the first line a server at addr says.
func smtpGreeting(ctx context.Context, addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		host = "127.0.0.1"
	}
	c, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}
