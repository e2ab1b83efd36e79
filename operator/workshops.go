package operator

import (
	"context"
	"fmt"
	"strings"

	"github.com/wod-dev/wod"
)

// The roles the workshop actions need, which the API and the pages check
// before they call: moderators run the day, which includes editing, opening
// and closing workshops; creating, deleting and importing change the
// catalogue itself and are for admins.
const (
	WorkshopEditRole    = wod.RoleModerator
	CatalogueChangeRole = wod.RoleAdmin
)

// WorkshopChange is what an operator sets on a workshop: the fields of the
// domain update, with the location named rather than numbered, as operators
// know it. Nil fields are left alone.
type WorkshopChange struct {
	wod.WorkshopUpdate
	// Location names the location the workshop moves to (or, for a new
	// workshop, starts at).
	Location *string
	// Locations names every location the workshop is offered at, the
	// first one first (it wins over Location), each as "name" or, with
	// the location's own seat range, "name:MIN-MAX".
	Locations *[]string
}

// Fields names what the change sets, in the API's spelling, location last:
// the detail of the audit event and of the pages' confirmation.
func (c WorkshopChange) Fields() []string {
	fields := c.UpdatedFields()
	if c.Location != nil {
		fields = append(fields, "location")
	}
	if c.Locations != nil {
		fields = append(fields, "locations")
	}
	return fields
}

// newWorkshopDefaults are what a workshop created by hand starts from,
// before the operator's fields apply.
func newWorkshopDefaults(slug string) *wod.Workshop {
	return &wod.Workshop{Slug: slug, Duration: wod.Duration(4 * 3600e9), Appliance: wod.ApplianceNone,
		SessionType: wod.SessionWorkshop, SeatMin: 1, SeatMax: 1}
}

// CreateWorkshop adds a workshop by hand (workshops usually come from a
// content import). It starts at the named location, or at the only one; its
// capacity, unless given, is its whole seat range.
func (s *Service) CreateWorkshop(ctx context.Context, by *wod.Caller, slug string, c WorkshopChange) (*wod.Workshop, error) {
	upd, err := s.resolve(ctx, c)
	if err != nil {
		return nil, err
	}
	if upd.LocationID == nil {
		l, n, err := s.onlyLocation(ctx)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, refused("location", "there are %d locations; name one", n)
		}
		upd.LocationID = &l.ID
	}
	w := newWorkshopDefaults(slug)
	w.Apply(upd)
	if upd.Capacity == nil {
		w.Capacity = w.SeatMax - w.SeatMin + 1
	}
	if err := s.Workshops.CreateWorkshop(ctx, w); err != nil {
		return nil, err
	}
	s.audit(ctx, by, "workshop.create", "workshop:"+w.Slug, "")
	return s.Workshops.FindWorkshop(ctx, w.Slug)
}

// UpdateWorkshop sets the change's fields on a workshop and records them
// as operator overrides, which later content imports leave alone;
// c.ClearOverrides forgets them instead, so that the next import sets every
// field again.
func (s *Service) UpdateWorkshop(ctx context.Context, by *wod.Caller, slug string, c WorkshopChange) (*wod.Workshop, error) {
	upd, err := s.resolve(ctx, c)
	if err != nil {
		return nil, err
	}
	w, err := s.Workshops.UpdateWorkshop(ctx, slug, upd)
	if err != nil {
		return nil, err
	}
	detail := c.Fields()
	if c.ClearOverrides {
		detail = append(detail, "clear overrides")
	}
	s.audit(ctx, by, "workshop.update", "workshop:"+w.Slug, strings.Join(detail, ","))
	return w, nil
}

// SetWorkshopActive opens a workshop for registration (it shows in the
// catalogue) or closes it; running sessions go on either way.
func (s *Service) SetWorkshopActive(ctx context.Context, by *wod.Caller, slug string, active bool) (*wod.Workshop, error) {
	return s.UpdateWorkshop(ctx, by, slug, WorkshopChange{WorkshopUpdate: wod.WorkshopUpdate{Active: &active}})
}

// DeleteWorkshop removes a workshop nobody ever registered for; the others
// are deactivated instead.
func (s *Service) DeleteWorkshop(ctx context.Context, by *wod.Caller, slug string) error {
	if err := s.Workshops.DeleteWorkshop(ctx, slug); err != nil {
		return err
	}
	s.audit(ctx, by, "workshop.delete", "workshop:"+slug, "")
	return nil
}

// resolve turns a change into the domain update, finding its locations.
func (s *Service) resolve(ctx context.Context, c WorkshopChange) (wod.WorkshopUpdate, error) {
	upd := c.WorkshopUpdate
	if c.Location != nil {
		l, err := s.findLocation(ctx, "location", *c.Location)
		if err != nil {
			return upd, err
		}
		upd.LocationID = &l.ID
	}
	if c.Locations != nil {
		if len(*c.Locations) == 0 {
			return upd, refused("locations", "name at least one location")
		}
		ids := make([]int64, 0, len(*c.Locations))
		ranges := make([]wod.SeatRange, 0, len(*c.Locations))
		for _, spec := range *c.Locations {
			name, r, err := wod.ParseLocationSpec(spec)
			if err != nil {
				return upd, refused("locations", "%v", err)
			}
			l, err := s.findLocation(ctx, "locations", name)
			if err != nil {
				return upd, err
			}
			ids, ranges = append(ids, l.ID), append(ranges, r)
		}
		upd.LocationIDs, upd.LocationRanges = &ids, &ranges
		upd.LocationID = &ids[0]
	}
	return upd, nil
}

// findLocation finds a location an operator named in a field.
func (s *Service) findLocation(ctx context.Context, field, name string) (*wod.Location, error) {
	l, err := s.Locations.FindLocation(ctx, name)
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		return nil, refused(field, "no location is called %q", name)
	}
	return l, err
}

// onlyLocation is where new workshops go when the operator names no
// location: the only one there is. With none or several it returns nil and
// how many there are, for the caller to say what to do.
func (s *Service) onlyLocation(ctx context.Context) (*wod.Location, int, error) {
	ls, err := s.Locations.FindLocations(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(ls) != 1 {
		return nil, len(ls), nil
	}
	return ls[0], 1, nil
}

// refused is the refusal of one field of the operator's request, which the
// API answers with 422 and the pages show beside the field.
func refused(field, format string, args ...any) error {
	return &wod.Error{Code: wod.EINVALID, Message: "the request is not valid",
		Fields: []wod.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}
