package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// Announcements are part of running the day, so moderators may post them.

func (p *Pages) registerAdminAnnouncements(mux *http.ServeMux) {
	mod := func(h func(http.ResponseWriter, *http.Request, *adminRequest)) http.HandlerFunc {
		return p.admin(wod.RoleModerator, h)
	}
	mux.HandleFunc("GET /admin/announcements", mod(p.announcements))
	mux.HandleFunc("POST /admin/announcements", mod(p.addAnnouncement))
	mux.HandleFunc("POST /admin/announcements/{id}/delete", mod(p.deleteAnnouncement))
}

const announcementsPage = "/admin/announcements"

// announcementForm keeps the times as typed, so that a bad one comes back
// for correction rather than blank.
type announcementForm struct {
	Message, Level, StartsAt, EndsAt string
	Errors                           map[string]string
}

// announcementList is one table of announcements; each row's delete form
// needs the CSRF token, which the table's template cannot reach otherwise.
type announcementList struct {
	CSRF  string
	Items []*wod.Announcement
}

type announcementsData struct {
	Current, Scheduled, Ended announcementList
	// Standing is the banner from the server's configuration, which only a
	// restart changes.
	Standing string
	Form     announcementForm
}

// endedShown bounds the list of past announcements: they are kept only to
// be cleaned up, and nobody reads hundreds.
const endedShown = 20

func (p *Pages) announcements(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	p.renderAnnouncements(w, r, a, http.StatusOK, announcementForm{Level: "info"})
}

func (p *Pages) renderAnnouncements(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, f announcementForm) {
	as, err := p.Announcements.FindAnnouncements(r.Context(), nil)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := &announcementsData{Standing: p.Announcement, Form: f}
	d.Current.CSRF, d.Scheduled.CSRF, d.Ended.CSRF = a.CSRF, a.CSRF, a.CSRF
	now := p.Clock.Now()
	for _, x := range as {
		switch {
		case x.EndsAt != nil && !x.EndsAt.After(now):
			if len(d.Ended.Items) < endedShown {
				d.Ended.Items = append(d.Ended.Items, x)
			}
		case x.StartsAt != nil && x.StartsAt.After(now):
			d.Scheduled.Items = append(d.Scheduled.Items, x)
		default:
			d.Current.Items = append(d.Current.Items, x)
		}
	}
	title := "Announcements"
	if len(f.Errors) > 0 {
		title = "Please check the announcement — " + title
	}
	p.render(w, r, status, "admin/announcements.html", p.adminView(w, r, a, "announcements", title, d))
}

// parseUTC reads a datetime-local input. Browsers send it without a zone,
// and the page says the times are UTC, which is how every time in wod is
// shown.
func parseUTC(s string) (*time.Time, bool) {
	if s == "" {
		return nil, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return &t, true
		}
	}
	return nil, false
}

func (p *Pages) addAnnouncement(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := announcementForm{Message: strings.TrimSpace(r.PostFormValue("message")), Level: r.PostFormValue("level"),
		StartsAt: strings.TrimSpace(r.PostFormValue("starts_at")), EndsAt: strings.TrimSpace(r.PostFormValue("ends_at"))}
	if f.Level == "" {
		f.Level = "info"
	}
	x := &wod.Announcement{Message: f.Message, Level: f.Level}
	var ok bool
	errs := map[string]string{}
	if x.StartsAt, ok = parseUTC(f.StartsAt); !ok {
		errs["starts_at"] = "is not a date and time"
	}
	if x.EndsAt, ok = parseUTC(f.EndsAt); !ok {
		errs["ends_at"] = "is not a date and time"
	}
	// The times the form could not read and the service's problems are
	// shown together.
	addFieldErrors(errs, p.Operator.ValidateAnnouncement(x))
	if len(errs) > 0 {
		f.Errors = errs
		p.renderAnnouncements(w, r, a, http.StatusUnprocessableEntity, f)
		return
	}
	if err := p.Operator.CreateAnnouncement(r.Context(), a.Caller, x); err != nil {
		if fe, bad := fieldErrors(err); bad {
			f.Errors = fe
			p.renderAnnouncements(w, r, a, http.StatusUnprocessableEntity, f)
			return
		}
		p.fail(w, r, err)
		return
	}
	msg := "Announcement posted: it shows on every page now."
	if x.StartsAt != nil && x.StartsAt.After(p.Clock.Now()) {
		msg = "Announcement scheduled: it shows from " + utc(x.StartsAt) + "."
	}
	p.done(w, r, announcementsPage, msg)
}

func (p *Pages) deleteAnnouncement(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	if err == nil {
		err = p.Operator.DeleteAnnouncement(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, announcementsPage, err)
		return
	}
	p.done(w, r, announcementsPage, "Announcement removed.")
}
