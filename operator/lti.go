package operator

import (
	"context"
	"strconv"

	"github.com/wod-dev/wod"
)

// CreateLTIPlatform registers a learning platform: its courses can launch
// workshops from then on.
func (s *Service) CreateLTIPlatform(ctx context.Context, by *wod.Caller, p *wod.LTIPlatform) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.LTI.CreateLTIPlatform(ctx, p); err != nil {
		return err
	}
	s.audit(ctx, by, "lti.platform.create", "lti:"+p.Name, p.Issuer)
	return nil
}

// DeleteLTIPlatform removes a learning platform: its launches are refused
// from then on.
func (s *Service) DeleteLTIPlatform(ctx context.Context, by *wod.Caller, id int64) error {
	if err := s.LTI.DeleteLTIPlatform(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, by, "lti.platform.delete", "lti:"+strconv.FormatInt(id, 10), "")
	return nil
}
