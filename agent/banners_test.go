package agent

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/jupyterhub"
)

type bannerSource struct {
	mu  sync.Mutex
	as  []*wod.Announcement
	err error
}

func (s *bannerSource) Announcements(context.Context) ([]*wod.Announcement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.as, s.err
}

func (s *bannerSource) set(as []*wod.Announcement, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.as, s.err = as, err
}

type bannerHub struct{ shown chan []jupyterhub.Banner }

func (h *bannerHub) SetBanners(bs []jupyterhub.Banner) error {
	h.shown <- bs
	return nil
}

func TestBanners(t *testing.T) {
	src := &bannerSource{as: []*wod.Announcement{{Message: "Coffee at 3", Level: "info"}, {Message: "Restart at 5", Level: "warning"}}}
	hub := &bannerHub{shown: make(chan []jupyterhub.Banner)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b := &Banners{Source: src, Static: "Welcome", Hub: hub, Every: 10 * time.Millisecond}
	go func() { b.Run(ctx); close(done) }()
	want := []jupyterhub.Banner{{Text: "Welcome", Warning: true}, {Text: "Coffee at 3"}, {Text: "Restart at 5", Warning: true}}
	if got := <-hub.shown; !slices.Equal(got, want) {
		t.Fatalf("shown %+v, want %+v", got, want)
	}
	// While the server does not answer, the hub keeps what it shows.
	src.set(nil, errors.New("connection refused"))
	// (At most the one round that read before the failure shows again.)
	shown := 0
	for deadline := time.After(100 * time.Millisecond); ; {
		select {
		case got := <-hub.shown:
			if shown++; shown > 1 || !slices.Equal(got, want) {
				t.Fatalf("shown %+v during an outage (%d)", got, shown)
			}
			continue
		case <-deadline:
		}
		break
	}
	src.set(nil, nil)
	for got := range hub.shown {
		if slices.Equal(got, []jupyterhub.Banner{{Text: "Welcome", Warning: true}}) {
			break // the announcements ended: the configured one stays
		}
	}
	cancel()
	go func() {
		for range hub.shown {
		}
	}()
	<-done
}
