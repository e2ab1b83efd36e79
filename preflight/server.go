package preflight

import (
	"context"
	"net"
	"net/url"
	"time"

	"github.com/wod-dev/wod/agent"
)

// checkPublicURL warns when the links in mails point to this machine
// alone while the server listens for others.
func (c *Checker) checkPublicURL(add addCheck) {
	u, err := url.Parse(c.Config.PublicURL)
	if err != nil || u.Host == "" {
		add("public URL", Fail, "%q is not a URL", c.Config.PublicURL)
		return
	}
	host, _, _ := net.SplitHostPort(c.Config.Addr)
	listensWide := host == "" || host == "0.0.0.0" || host == "::"
	if ip := net.ParseIP(u.Hostname()); (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) && listensWide {
		add("public URL", Warn, "links in mails point to %s, which only this machine reaches: set --public-url", c.Config.PublicURL)
		return
	}
	add("public URL", OK, "links in mails point to %s", c.Config.PublicURL)
}

// checkHubURL says which hub URL participants are given and why: the
// default is the machine's reachable name or address (config.DeriveHubURL).
func (c *Checker) checkHubURL(add addCheck) {
	u, err := url.Parse(c.Config.HubURL)
	if err != nil || u.Host == "" {
		add("hub URL", Fail, "%q is not a URL", c.Config.HubURL)
		return
	}
	why := c.Config.HubURLWhy
	if why == "" {
		why = "given (--hub-url)"
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
		add("hub URL", Warn, "participants are sent to %s, which only this machine reaches: set --hub-url\n(%s)", c.Config.HubURL, why)
		return
	}
	add("hub URL", OK, "participants are sent to %s\n(%s)", c.Config.HubURL, why)
}

// checkServer proves that the agent reaches its server and that the server
// takes its token, with a call that changes nothing.
func (c *Checker) checkServer(ctx context.Context, add addCheck) {
	ac := c.Config.Agent
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if lc := ac.Legacy; lc.API != "" {
		c.checkLegacy(ctx, add)
		return
	}
	if ac.Server == "" || ac.Token == "" {
		add("server", Fail, "wod agent needs --server and --agent-token (or WOD_SERVER and WOD_AGENT_TOKEN)")
		return
	}
	client := &agent.Client{BaseURL: ac.Server, Token: ac.Token}
	seats, err := client.HeldSeats(ctx)
	if err != nil {
		add("server", Fail, "%s: %v", ac.Server, err)
		return
	}
	add("server", OK, "%s takes the agent token (%d seats in use at this location)", ac.Server, len(seats))
}
