package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
)

type announcementCreate struct {
	Message  string     `json:"message" minLength:"1" maxLength:"2000"`
	Level    string     `json:"level,omitempty" enum:"info,warning" default:"info"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
}

type listAnnouncementsInput struct {
	All bool `query:"all"`
}

type createAnnouncementInput struct{ Body announcementCreate }

func (s *Server) registerAnnouncements() {
	tags := []string{"Announcements"}
	register(s, huma.Operation{OperationID: "list-announcements", Method: http.MethodGet, Path: APIPrefix + "/announcements",
		Summary: "List announcements", Tags: tags,
		Description: "The banners showing now; operators may ask for all of them with `all=true`."},
		"", s.listAnnouncements)
	register(s, huma.Operation{OperationID: "create-announcement", Method: http.MethodPost, Path: APIPrefix + "/announcements",
		Summary: "Post an announcement", Tags: tags, DefaultStatus: http.StatusCreated},
		wod.RoleModerator, s.createAnnouncement)
	register(s, huma.Operation{OperationID: "delete-announcement", Method: http.MethodDelete, Path: APIPrefix + "/announcements/{id}",
		Summary: "Remove an announcement", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleModerator, s.deleteAnnouncement)
}

func (s *Server) listAnnouncements(ctx context.Context, in *listAnnouncementsInput) (*body[[]*wod.Announcement], error) {
	var at *time.Time
	if !in.All {
		now := s.Clock.Now()
		at = &now
	} else if CallerFrom(ctx).Anonymous() {
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "all=true is for operators; authenticate first")
	}
	as, err := s.Announcements.FindAnnouncements(ctx, at)
	if as == nil {
		as = []*wod.Announcement{}
	}
	return &body[[]*wod.Announcement]{as}, err
}

func (s *Server) createAnnouncement(ctx context.Context, in *createAnnouncementInput) (*body[*wod.Announcement], error) {
	a := &wod.Announcement{Message: in.Body.Message, Level: in.Body.Level, StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt}
	if err := s.Operator.CreateAnnouncement(ctx, CallerFrom(ctx), a); err != nil {
		return nil, err
	}
	return &body[*wod.Announcement]{a}, nil
}

func (s *Server) deleteAnnouncement(ctx context.Context, in *IDParam) (*empty, error) {
	if err := s.Operator.DeleteAnnouncement(ctx, CallerFrom(ctx), in.ID); err != nil {
		return nil, err
	}
	return &empty{}, nil
}
