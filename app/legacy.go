package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/wod-dev/wod/legacy"
)

// RunLegacyAgent runs the agent for the original api-db: its command mails
// arrive on --legacy-mail-addr, wait in <data>/legacy-mail, run as the
// agent's jobs, and their outcomes go to the api-db's REST API.
func (a *App) RunLegacyAgent(ctx context.Context, contentDirs []string) error {
	lc := a.Config.Agent.Legacy
	allow, err := legacy.ParseNetworks(lc.Allow)
	if err != nil {
		return fmt.Errorf("--legacy-mail-allow: %w", err)
	}
	spool := &legacy.Spool{Dir: filepath.Join(a.Config.Data, "legacy-mail")}
	if err := spool.Open(); err != nil {
		return err
	}
	log := a.Logger.With("component", "legacy")
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
	intake := &legacy.Intake{Spool: spool, Allow: allow, Senders: lc.Senders, Accepted: bridge.Notify,
		Domain: host, Logger: log}
	log.Info("agent running for the original api-db", "api", lc.API, "mail", ln.Addr().String(),
		"allow", lc.Allow, "spool", spool.Dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var serveErr error
	wg.Go(func() {
		if serveErr = intake.Serve(ctx, ln); serveErr != nil {
			cancel() // no intake, no agent: let the supervisor restart us
		}
	})
	parts.Run(ctx)
	wg.Wait()
	if serveErr != nil {
		return fmt.Errorf("legacy mail intake: %w", serveErr)
	}
	return nil
}
