package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

// BannerSource gives the platform's announcements showing now.
type BannerSource interface {
	Announcements(ctx context.Context) ([]*wod.Announcement, error)
}

// Banners keeps the managed hub's pages showing the platform's
// announcements, after the configured one (--announcement), as the portal
// does: an operator's "the hub restarts at noon" reaches the participants
// where they are.
type Banners struct {
	Source BannerSource
	Static string
	Hub    interface {
		SetBanners([]jupyterhub.Banner) error
	}
	// Every is how often the announcements are read (default 30 s).
	Every  time.Duration
	Logger *slog.Logger
}

// Run shows the announcements until ctx ends. While they cannot be read,
// the hub keeps showing the last ones.
func (b *Banners) Run(ctx context.Context) {
	every := b.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	failing, writeFailing := false, false
	for {
		as, err := b.Source.Announcements(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Said once per outage, not every round.
			if !failing && b.Logger != nil {
				b.Logger.WarnContext(ctx, "reading the announcements for the hub's pages", "error", err)
			}
			failing = true
		default:
			failing = false
			banners := []jupyterhub.Banner{{Text: b.Static, Warning: true}}
			for _, a := range as {
				banners = append(banners, jupyterhub.Banner{Text: a.Message, Warning: a.Level == "warning"})
			}
			err := b.Hub.SetBanners(banners)
			if err != nil && !writeFailing && b.Logger != nil {
				b.Logger.ErrorContext(ctx, "showing the announcements on the hub's pages", "error", err)
			}
			writeFailing = err != nil
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
