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
	// failed, when set, hears of each read that failed: the rounds of an
	// outage the test can count instead of waiting blindly.
	failed chan struct{}
}

func (s *bannerSource) Announcements(context.Context) ([]*wod.Announcement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil && s.failed != nil {
		select {
		case s.failed <- struct{}{}:
		default:
		}
	}
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
	src := &bannerSource{as: []*wod.Announcement{{Message: "Coffee at 3", Level: "info"}, {Message: "Restart at 5", Level: "warning"}},
		failed: make(chan struct{}, 16)}
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
	// Three failed rounds: each round shows before it reads again, so
	// whatever the outage would show has been shown by then.
	shown := 0
	for failed := 0; failed < 3; {
		select {
		case got := <-hub.shown:
			if shown++; shown > 1 || !slices.Equal(got, want) {
				t.Fatalf("shown %+v during an outage (%d)", got, shown)
			}
		case <-src.failed:
			failed++
		}
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
