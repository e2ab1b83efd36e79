package operator

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// RehearseRole may start rehearsals and read their reports: operators who
// look after the workshops.
const RehearseRole = wod.RoleModerator

// Rehearser starts rehearsals (package rehearsal's Runner).
type Rehearser interface {
	// Start books a seat and runs the rehearsal in the background; EFULL
	// when no seat can be spared, EUNAVAILABLE without a hub executor.
	Start(ctx context.Context, slug, by string) (*wod.Rehearsal, error)
}

// errNoRehearser is the answer of a server that cannot rehearse.
var errNoRehearser = wod.Errorf(wod.EUNAVAILABLE, "rehearsals need a hub executor, and this server has none")

// StartRehearsal has the robot participant rehearse the workshop: it
// answers at once with the running rehearsal, or EFULL ("no free seat")
// when no seat can be taken without taking one a participant needs.
func (s *Service) StartRehearsal(ctx context.Context, by *wod.Caller, slug string) (*wod.Rehearsal, error) {
	if s.Rehearser == nil || s.RehearsalStore == nil {
		return nil, errNoRehearser
	}
	if _, err := s.Workshops.FindWorkshop(ctx, slug); err != nil {
		return nil, err
	}
	h, err := s.Rehearser.Start(ctx, slug, callerName(by))
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "workshop.rehearse", "workshop:"+slug, fmt.Sprintf("rehearsal %d", h.ID))
	return h, nil
}

// Rehearsals lists the workshop's rehearsals, newest first.
func (s *Service) Rehearsals(ctx context.Context, slug string, limit int) ([]*wod.Rehearsal, error) {
	if s.RehearsalStore == nil {
		return []*wod.Rehearsal{}, nil
	}
	if _, err := s.Workshops.FindWorkshop(ctx, slug); err != nil {
		return nil, err
	}
	return s.RehearsalStore.FindRehearsals(ctx, slug, limit)
}

// Rehearsal returns one rehearsal of the workshop.
func (s *Service) Rehearsal(ctx context.Context, slug string, id int64) (*wod.Rehearsal, error) {
	if s.RehearsalStore == nil {
		return nil, wod.Errorf(wod.ENOTFOUND, "rehearsal %d not found", id)
	}
	h, err := s.RehearsalStore.FindRehearsal(ctx, id)
	if err != nil {
		return nil, err
	}
	if h.Workshop != slug {
		return nil, wod.Errorf(wod.ENOTFOUND, "workshop %s has no rehearsal %d", slug, id)
	}
	return h, nil
}

// LastRehearsals returns each workshop's latest rehearsal, by slug.
func (s *Service) LastRehearsals(ctx context.Context) (map[string]*wod.Rehearsal, error) {
	if s.RehearsalStore == nil {
		return map[string]*wod.Rehearsal{}, nil
	}
	return s.RehearsalStore.LastRehearsals(ctx)
}
