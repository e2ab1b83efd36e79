package wod

import (
	"context"
	"strings"
	"time"
)

// Announcement is an operator's banner on the portal and in the hub.
type Announcement struct {
	ID        int64      `json:"id"`
	Message   string     `json:"message"`
	Level     string     `json:"level"` // info, warning
	StartsAt  *time.Time `json:"starts_at,omitempty"`
	EndsAt    *time.Time `json:"ends_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Validate checks the announcement's own rules.
func (a *Announcement) Validate() error {
	var v Validation
	v.Check(strings.TrimSpace(a.Message) != "", "message", "is required")
	v.Check(len(a.Message) <= 2000, "message", "is longer than 2000 characters")
	v.Check(a.Level == "info" || a.Level == "warning", "level", "must be info or warning")
	v.Check(a.StartsAt == nil || a.EndsAt == nil || a.EndsAt.After(*a.StartsAt), "ends_at", "must be after starts_at")
	return v.Err("the announcement is not valid")
}

// AnnouncementService manages banners.
type AnnouncementService interface {
	FindAnnouncements(ctx context.Context, currentAt *time.Time) ([]*Announcement, error)
	CreateAnnouncement(ctx context.Context, a *Announcement) error
	DeleteAnnouncement(ctx context.Context, id int64) error
}
