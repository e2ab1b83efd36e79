package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/agent"
	"github.com/wod-dev/wod/legacy"
	"github.com/wod-dev/wod/mail"
)

// RunLegacyAgent runs the agent for the original api-db: its command mails
// arrive on --legacy-mail-addr, wait in <data>/legacy-mail, run as the
// agent's jobs, and their outcomes go to the api-db's REST API.
func (a *App) RunLegacyAgent(ctx context.Context, contentDirs []string) error {
	lc := a.Config.Agent.Legacy
	allow, senderUIDs, err := a.legacyIntakePolicy()
	if err != nil {
		return err
	}
	spool := &legacy.Spool{Dir: filepath.Join(a.Config.Data, "legacy-mail")}
	if err := spool.Open(); err != nil {
		return err
	}
	log := a.Logger.With("component", "legacy")
	relay, err := a.legacyRelay(log)
	if err != nil {
		return err
	}
	bridge := &legacy.Bridge{Spool: spool, API: &legacy.APIDB{URL: lc.API, User: lc.User, Password: lc.Password},
		BaseStudentID: lc.BaseStudentID, Students: lc.Students, Location: lc.Location, Logger: log}
	parts, err := a.BuildAgent(ctx, bridge, contentDirs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", lc.MailAddr)
	if err != nil {
		return fmt.Errorf("--legacy-mail-addr: %w", err)
	}
	host, _ := os.Hostname()
	intake := &legacy.Intake{Spool: spool, Allow: allow, SenderUIDs: senderUIDs, Senders: lc.Senders,
		Accepted: bridge.Notify, Audit: bridge.Event, Domain: host, Relay: relay,
		LocalDomains: legacyLocalDomains(host, lc.Location, lc.MailAddr), Logger: log}
	log.Info("agent running for the original api-db", "api", lc.API, "mail", ln.Addr().String(),
		"allow", lc.Allow, "sender_uids", senderUIDs, "spool", spool.Dir, "relay", relay != nil)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if relay != nil {
		wg.Go(func() { relay.Run(ctx) })
	}
	var serveErr error
	wg.Go(func() {
		if serveErr = intake.Serve(ctx, ln); serveErr != nil {
			cancel() // no intake, no agent: let the supervisor restart us
		}
	})
	parts.Run(ctx)
	cancel() // the intake and the relay stop with the agent
	wg.Wait()
	if serveErr != nil {
		return fmt.Errorf("legacy mail intake: %w", serveErr)
	}
	return nil
}

// legacyRelay is the outbox of the api-db's participant mails, with
// --smtp-host: without SendGrid the api-db sends them to its backend, whose
// Postfix passed them on. Only the api-db's sender may use it, so it needs
// --legacy-mail-from. Without --smtp-host the intake refuses them.
func (a *App) legacyRelay(log *slog.Logger) (*legacy.Relay, error) {
	mc := a.Config.Mail
	if mc.SMTPHost == "" {
		return nil, nil
	}
	if len(a.Config.Agent.Legacy.Senders) == 0 {
		return nil, fmt.Errorf("--smtp-host relays the api-db's participant mails: name the api-db's sender (its WODSENDER) with --legacy-mail-from, so that nobody else's are relayed")
	}
	transport, err := mail.NewSMTP(mail.SMTPConfig{Host: mc.SMTPHost, Port: mc.SMTPPort, Security: mc.SMTPSecurity,
		Username: mc.SMTPUsername, Password: mc.SMTPPassword, Timeout: mc.SMTPTimeout})
	if err != nil {
		return nil, fmt.Errorf("--smtp-host: %w", err)
	}
	relay := &legacy.Relay{Dir: filepath.Join(a.Config.Data, "legacy-relay"), Transport: transport, Logger: log}
	if err := relay.Open(); err != nil {
		return nil, err
	}
	return relay, nil
}

// legacyLocalDomains are the names the api-db's command mails are
// addressed to (its WODUSER@<location>): never relayed.
func legacyLocalDomains(host, location, mailAddr string) []string {
	out := []string{host, location}
	if h, _, err := net.SplitHostPort(mailAddr); err == nil && h != "" {
		out = append(out, h)
	}
	return out
}

// legacyIntakePolicy reads who may send command mails and refuses a
// configuration that would let students send them (legacy.CheckAllow,
// legacy.CheckSenderUIDs), or a host where local senders cannot be told
// apart.
func (a *App) legacyIntakePolicy() ([]netip.Prefix, []int, error) {
	lc := a.Config.Agent.Legacy
	allow, err := legacy.ParseNetworks(lc.Allow)
	if err != nil {
		return nil, nil, fmt.Errorf("--legacy-mail-allow: %w", err)
	}
	appliances := map[string]netip.Addr{}
	for _, kv := range a.Config.NotebookVars {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if ip, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil && strings.HasPrefix(k, "IP-") {
			appliances[k] = ip
		}
	}
	var uids []int
	for _, name := range lc.SenderUsers {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		u, err := user.Lookup(name)
		if err != nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--legacy-mail-uids %q is no account of this host", name)
		}
		uid, _ := strconv.Atoi(u.Uid)
		uids = append(uids, uid)
	}
	err = errors.Join(legacy.CheckAllow(allow, appliances),
		legacy.CheckSenderUIDs(uids, a.Config.Agent.UIDBase, wod.MaxStudentsPerLocation, agent.DefaultGroup))
	if err != nil {
		return nil, nil, fmt.Errorf("the command mail intake would take students' commands: %w", err)
	}
	if err := legacy.CheckPeerLookup(); err != nil {
		return nil, nil, fmt.Errorf("the command mail intake cannot tell a student's connection from root's: %w", err)
	}
	return allow, uids, nil
}
