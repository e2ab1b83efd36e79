package operator

import (
	"context"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// AgentTokens keeps the hash of each location's agent token.
type AgentTokens interface {
	SetLocationAgentToken(ctx context.Context, name string, hash []byte) error
}

// CreateLocation adds a JupyterHub host with its seats, all free.
func (s *Service) CreateLocation(ctx context.Context, by *wod.Caller, l *wod.Location) error {
	if err := s.Locations.CreateLocation(ctx, l); err != nil {
		return err
	}
	s.audit(ctx, by, "location.create", "location:"+l.Name, "")
	// Content that waited for a location goes there now; the repositories'
	// import, refused for want of one, is tried again.
	s.ContentWait.Kick()
	if s.ContentSync != nil {
		s.ContentSync.Kick()
	}
	return nil
}

// UpdateLocation changes a location's hub URL, first student number or
// seat count. Growing the seats adds free ones; the store refuses to shrink
// below a seat in use or a workshop's range.
func (s *Service) UpdateLocation(ctx context.Context, by *wod.Caller, name string, upd wod.LocationUpdate) (*wod.Location, error) {
	l, err := s.Locations.UpdateLocation(ctx, name, upd)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "location.update", "location:"+l.Name, "")
	return l, nil
}

// DeleteLocation removes a location that no workshop uses and that has no
// history.
func (s *Service) DeleteLocation(ctx context.Context, by *wod.Caller, name string) error {
	if err := s.Locations.DeleteLocation(ctx, name); err != nil {
		return err
	}
	s.audit(ctx, by, "location.delete", "location:"+name, "")
	return nil
}

// IssueAgentToken mints a new token for the location's agent and returns
// it, the only time it is shown: the store keeps its hash, and the previous
// token stops working.
func (s *Service) IssueAgentToken(ctx context.Context, by *wod.Caller, name string) (string, error) {
	tok, _, hash := secret.NewToken()
	if err := s.AgentTokens.SetLocationAgentToken(ctx, name, hash); err != nil {
		return "", err
	}
	s.audit(ctx, by, "location.agent_token", "location:"+name, "")
	return tok, nil
}

// LocalLocation is the location wod up manages on its own machine.
const LocalLocation = "local"

// EnsureLocalLocation creates the all-in-one location (LocalLocation), or
// brings its hub URL and seats in line with wod up's configuration. It is
// the platform's own doing, not an operator's, so it leaves no audit event.
func (s *Service) EnsureLocalLocation(ctx context.Context, hubURL string, students int) (*wod.Location, error) {
	// Compared as the store keeps it, so that a configured trailing slash
	// does not rewrite the location at every start.
	want := wod.Location{HubURL: hubURL}
	want.Normalize()
	hubURL = want.HubURL
	l, err := s.Locations.FindLocation(ctx, LocalLocation)
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		l = &wod.Location{Name: LocalLocation, HubURL: hubURL, Students: students}
		if err := s.Locations.CreateLocation(ctx, l); err != nil {
			return nil, err
		}
		s.Logger.InfoContext(ctx, "created the local location", "students", l.Students, "hub", l.HubURL)
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if l.HubURL != hubURL || l.Students != students {
		return s.Locations.UpdateLocation(ctx, LocalLocation, wod.LocationUpdate{HubURL: &hubURL, Students: &students})
	}
	return l, nil
}
