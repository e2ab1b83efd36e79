package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
)

func (p *Pages) registerStatus(mux *http.ServeMux) {
	mux.HandleFunc("GET /status/{token}", p.status)
	mux.HandleFunc("GET /status/{token}/live", p.statusLive)
	mux.HandleFunc("GET /status/{token}/end", p.confirmEnd)
	mux.HandleFunc("POST /status/{token}/end", p.end)
	mux.HandleFunc("POST /status/{token}/leave", p.leave)
	mux.HandleFunc("GET /status/{token}/extend", p.confirmExtend)
	mux.HandleFunc("POST /status/{token}/extend", p.extend)
	mux.HandleFunc("GET /status/{token}/notebooks.zip", p.notebooks)
}

// statusData is what the participant's status page shows.
type statusData struct {
	Token, Title, Workshop, Username, Password, LoginURL, LaunchURL string
	State                                                           wod.RegistrationState
	EndsAt, ReadyAt                                                 *time.Time
	Completion                                                      *int
	// Live: the registration still belongs to the participant; Running:
	// the environment is theirs to use now; Final: nothing will change.
	Live, Running, Final bool
	// Finished counts the participant's finished workshops; Badge is the
	// level that earned, if any.
	Finished int
	Badge    *wod.Badge
	Next     *wod.Badge
	// NotebooksKB is the size of the notebooks kept for download until
	// NotebooksUntil (0: none).
	NotebooksKB    int
	NotebooksUntil time.Time
	// KeepsNotebooks: the platform keeps notebooks for download after the end.
	KeepsNotebooks bool
	// Waiting: the participant is in the workshop's waiting line, at Place
	// (1: next); EstimatedAt is when a seat is expected (nil: unknown).
	// Why says why a registration ended without a seat.
	Waiting     bool
	Place       int
	EstimatedAt *time.Time
	Why         string
	// ExtendBy is how much time the participant may add now (0: none);
	// SelfExtended: they did already. Refused says why an extension they
	// asked for was not given.
	ExtendBy     wod.Duration
	SelfExtended bool
	Refused      string
}

func (p *Pages) loadStatus(w http.ResponseWriter, r *http.Request) (*wod.Registration, *statusData, bool) {
	token := r.PathValue("token")
	id, ok := p.Keys.ParseStatusToken(token)
	if !ok {
		p.notFound(w, r, "This status link is not valid. Use the link in the e-mail we sent you.")
		return nil, nil, false
	}
	reg, err := p.Registrations.FindRegistration(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	ws, err := p.Workshops.FindWorkshop(r.Context(), reg.Workshop)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	d := &statusData{Token: token, Title: ws.Title, Workshop: ws.Slug, State: reg.State, EndsAt: reg.EndsAt,
		ReadyAt: reg.ReadyAt, Completion: reg.Completion, Live: reg.State.Live(), Running: reg.State.Running(),
		Final:          reg.State.Final(),
		KeepsNotebooks: p.NotebookRetention > 0, Waiting: reg.State == wod.StateWaiting, Place: reg.Place}
	if d.Waiting {
		at, ok, err := p.Registrations.WaitEstimate(r.Context(), reg)
		if err != nil {
			p.fail(w, r, err)
			return nil, nil, false
		}
		if ok {
			d.EstimatedAt = &at
		}
	}
	if reg.State == wod.StateLeft {
		d.Why = reg.Error
	}
	if d.Running {
		c, err := engine.Credentials(r.Context(), p.Locations, p.Keys, reg)
		if err != nil {
			p.fail(w, r, err)
			return nil, nil, false
		}
		d.Username, d.Password, d.LoginURL, d.LaunchURL = c.Username, c.Password, c.LoginURL, c.LaunchURL
		by, err := p.Registrar.SelfExtension(r.Context(), reg)
		if err != nil {
			p.fail(w, r, err)
			return nil, nil, false
		}
		d.ExtendBy, d.SelfExtended = wod.Duration(by), reg.SelfExtended
	}
	if reg.State == wod.StateDone {
		if n, err := p.Registrations.FindNotebooks(r.Context(), reg.ID, false); err == nil {
			if until := n.KeptAt.Add(p.NotebookRetention); until.After(p.Clock.Now()) {
				d.NotebooksKB, d.NotebooksUntil = max(1, (n.Size+1023)/1024), until
			}
		} else if wod.ErrorCode(err) != wod.ENOTFOUND {
			p.fail(w, r, err)
			return nil, nil, false
		}
	}
	if reg.State == wod.StateDone && p.Badges != nil {
		if d.Finished, err = p.Badges.FinishedWorkshops(r.Context(), reg.Email); err != nil {
			p.fail(w, r, err)
			return nil, nil, false
		}
		d.Badge = wod.BadgeFor(d.Finished)
		for i := range wod.Badges {
			if wod.Badges[i].Workshops > d.Finished {
				d.Next = &wod.Badges[i]
				break
			}
		}
	}
	// The page may show a password: keep it out of caches and referrers.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	return reg, d, true
}

func (p *Pages) status(w http.ResponseWriter, r *http.Request) {
	if _, d, ok := p.loadStatus(w, r); ok {
		p.render(w, r, http.StatusOK, "portal/status.html", p.view(r.Context(), d.Title, d))
	}
}

// notebooks downloads what the participant left in the workshop's folder,
// while it is kept.
func (p *Pages) notebooks(w http.ResponseWriter, r *http.Request) {
	id, ok := p.Keys.ParseStatusToken(r.PathValue("token"))
	if !ok {
		p.notFound(w, r, "This link is not valid. Use the link in the e-mail we sent you.")
		return
	}
	n, err := p.Registrations.FindNotebooks(r.Context(), id, true)
	if wod.ErrorCode(err) == wod.ENOTFOUND || (err == nil && !n.KeptAt.Add(p.NotebookRetention).After(p.Clock.Now())) {
		p.notFound(w, r, "Your notebooks are no longer kept: they are deleted some time after the end of the workshop.")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	reg, err := p.Registrations.FindRegistration(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-notebooks.zip"`, reg.Workshop))
	w.Header().Set("Content-Length", strconv.Itoa(len(n.Data)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Write(n.Data)
}

// statusLive is the changing part of the status page, which the page's
// script fetches every few seconds.
func (p *Pages) statusLive(w http.ResponseWriter, r *http.Request) {
	if _, d, ok := p.loadStatus(w, r); ok {
		p.execute(w, r, http.StatusOK, "portal/status.html", "status-body", p.view(r.Context(), d.Title, d))
	}
}

func (p *Pages) confirmEnd(w http.ResponseWriter, r *http.Request) {
	if _, d, ok := p.loadStatus(w, r); ok {
		p.render(w, r, http.StatusOK, "portal/end.html", p.view(r.Context(), "End "+d.Title+"?", d))
	}
}

// leave takes the participant out of the waiting line: one click on the
// status page's button (a POST, which link scanners do not send).
func (p *Pages) leave(w http.ResponseWriter, r *http.Request) {
	reg, _, ok := p.loadStatus(w, r)
	if !ok {
		return
	}
	if reg.State == wod.StateWaiting {
		if _, err := p.Registrar.LeaveLine(r.Context(), reg.ID, "participant"); err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
			p.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/status/"+r.PathValue("token"), http.StatusSeeOther)
}

// end is a POST behind a confirmation page: a link in a mail is followed by
// scanners and previewers, which must not end anybody's session.
func (p *Pages) end(w http.ResponseWriter, r *http.Request) {
	reg, _, ok := p.loadStatus(w, r)
	if !ok {
		return
	}
	if reg.State.Live() {
		if _, err := p.Registrar.EndNow(r.Context(), reg.ID, "participant"); err != nil && wod.ErrorCode(err) != wod.ECONFLICT {
			p.fail(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/status/"+r.PathValue("token"), http.StatusSeeOther)
}

// confirmExtend is where the reminder's link leads: a confirmation, since
// scanners and previewers follow links in mails.
func (p *Pages) confirmExtend(w http.ResponseWriter, r *http.Request) {
	if _, d, ok := p.loadStatus(w, r); ok {
		p.render(w, r, http.StatusOK, "portal/extend.html", p.view(r.Context(), "More time for "+d.Title+"?", d))
	}
}

// extend adds the workshop's time to the participant's session, once; a
// refusal (used already, someone waits, the session is over) says so.
func (p *Pages) extend(w http.ResponseWriter, r *http.Request) {
	reg, d, ok := p.loadStatus(w, r)
	if !ok {
		return
	}
	_, err := p.Registrar.ExtendSelf(r.Context(), reg.ID)
	if wod.ErrorCode(err) == wod.ECONFLICT {
		d.ExtendBy = 0
		switch {
		case reg.SelfExtended:
			d.Refused = "You have added time to this session already: it can be done once."
		case !reg.State.Running():
			d.Refused = "This session is not running any more."
		default:
			d.Refused = "Time cannot be added to this session now: someone is waiting for a seat of this workshop, or the workshop does not allow it."
		}
		p.render(w, r, http.StatusConflict, "portal/extend.html", p.view(r.Context(), "More time for "+d.Title+"?", d))
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/status/"+r.PathValue("token"), http.StatusSeeOther)
}
