package operator

import (
	"context"
	"strconv"

	"github.com/wod-dev/wod"
)

// ValidateAnnouncement checks an announcement without posting it. One that
// has already ended is refused: nobody would ever see it (most likely its
// time was typed in local time rather than UTC). A form that has problems
// of its own shows them together with these.
func (s *Service) ValidateAnnouncement(a *wod.Announcement) error {
	var v wod.Validation
	if a.EndsAt != nil && !a.EndsAt.After(s.Clock.Now()) {
		v.Add("ends_at", "is already past (times are UTC)")
	}
	if err := addFields(&v, a.Validate()); err != nil {
		return err
	}
	return v.Err("the announcement is not valid")
}

// CreateAnnouncement posts a banner; its level is "info" unless given.
func (s *Service) CreateAnnouncement(ctx context.Context, by *wod.Caller, a *wod.Announcement) error {
	if a.Level == "" {
		a.Level = "info"
	}
	if err := s.ValidateAnnouncement(a); err != nil {
		return err
	}
	if err := s.Announcements.CreateAnnouncement(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, by, "announcement.create", "announcement:"+strconv.FormatInt(a.ID, 10), "")
	return nil
}

// DeleteAnnouncement removes a banner.
func (s *Service) DeleteAnnouncement(ctx context.Context, by *wod.Caller, id int64) error {
	if err := s.Announcements.DeleteAnnouncement(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, by, "announcement.delete", "announcement:"+strconv.FormatInt(id, 10), "")
	return nil
}
