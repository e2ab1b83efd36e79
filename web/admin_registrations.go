package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
)

// The registration pages do what the API's registration routes do, with
// the same role: moderators act on registrations. The engine records the
// audit events of the actions, with the operator as actor.

func (p *Pages) registerAdminRegistrations(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/registrations", p.admin(wod.RoleModerator, p.adminRegistrations))
	mux.HandleFunc("GET /admin/registrations/{id}", p.admin(wod.RoleModerator, p.adminRegistration))
	mux.HandleFunc("POST /admin/registrations/{id}/{action}", p.admin(wod.RoleModerator, p.registrationAction))
}

// adminPageSize is how many rows a listing shows unless asked otherwise.
const adminPageSize = 50

// listPage reads limit and offset from the query.
func listPage(q url.Values) wod.Page {
	pg := wod.Page{Limit: adminPageSize}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		pg.Limit = n
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil {
		pg.Offset = n
	}
	return pg.Normalize()
}

// pager says which rows a listing shows and links its neighbours, keeping
// the rest of the query.
type pager struct {
	From, To, Total int
	Prev, Next      string
}

func newPager(path string, q url.Values, pg wod.Page, shown, total int) pager {
	link := func(offset int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Del("offset")
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	p := pager{Total: total}
	if shown > 0 {
		p.From, p.To = pg.Offset+1, pg.Offset+shown
	}
	if pg.Offset > 0 {
		p.Prev = link(max(0, pg.Offset-pg.Limit))
	}
	if pg.Offset+shown < total {
		p.Next = link(pg.Offset + pg.Limit)
	}
	return p
}

// regAction is a button on a registration.
type regAction struct {
	Path, Label, Confirm string
	// By is the extension, for extend.
	By     string
	Danger bool
}

// actionsFor offers what the engine would accept in the registration's
// state; the engine still decides, for the race with the clock.
func actionsFor(r *wod.Registration) []regAction {
	var as []regAction
	if r.State.Running() {
		as = append(as, regAction{Path: "extend", By: "30m", Label: "+30 min"},
			regAction{Path: "extend", By: "1h", Label: "+1 h"},
			regAction{Path: "resend", Label: "Resend credentials"})
	}
	if r.State == wod.StateWaiting {
		// The engine's "end" of a waiter takes it out of the line.
		as = append(as, regAction{Path: "end", Label: "Remove from line", Danger: true,
			Confirm: fmt.Sprintf("Take registration %d of %s out of the waiting line?", r.ID, r.Name)})
	} else if r.State.Live() {
		as = append(as, regAction{Path: "end", Label: "End now", Danger: true,
			Confirm: fmt.Sprintf("End registration %d of %s now? The environment is measured and wiped.", r.ID, r.Name)})
	}
	if r.SeatHeld {
		as = append(as, regAction{Path: "purge", Label: "Purge", Danger: true,
			Confirm: fmt.Sprintf("Purge registration %d? Its seat is wiped and freed at once; a live session fails.", r.ID)})
	}
	return as
}

type regRow struct {
	*wod.Registration
	Actions []regAction
}

type registrationsData struct {
	Q, State, Workshop string
	States             []wod.RegistrationState
	Workshops          []string
	Rows               []regRow
	Pager              pager
	// Back is this listing, for the actions to return to.
	Back string
}

var allStates = []wod.RegistrationState{wod.StateWaiting, wod.StatePending, wod.StateReady, wod.StateExpiring,
	wod.StateEnding, wod.StateDone, wod.StateFailed, wod.StateLeft}

func (p *Pages) adminRegistrations(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	q := r.URL.Query()
	d := &registrationsData{Q: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Workshop: q.Get("workshop"),
		States: allStates, Back: r.URL.RequestURI()}
	f := wod.RegistrationFilter{Page: listPage(q)}
	if d.Q != "" {
		f.Search = &d.Q
	}
	if st := wod.RegistrationState(d.State); st.Valid() {
		f.State = &st
	} else {
		d.State = ""
	}
	if d.Workshop != "" {
		f.Workshop = &d.Workshop
	}
	ws, _, err := p.Workshops.FindWorkshops(r.Context(), wod.WorkshopFilter{Page: wod.Page{Limit: wod.MaxLimit}})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	for _, x := range ws {
		d.Workshops = append(d.Workshops, x.Slug)
	}
	rs, total, err := p.Registrations.FindRegistrations(r.Context(), f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	for _, x := range rs {
		d.Rows = append(d.Rows, regRow{Registration: x, Actions: actionsFor(x)})
	}
	d.Pager = newPager("/admin/registrations", q, f.Page, len(rs), total)
	p.render(w, r, http.StatusOK, "admin/registrations.html", p.adminView(w, r, a, "registrations", "Registrations", d))
}

type registrationData struct {
	R       *wod.Registration
	Actions []regAction
	// StudentID is the seat's global student id (location base + number).
	StudentID int
	LoginURL  string
	// Password is the student password, only while the session runs; the
	// API shows it to moderators too.
	Password  string
	StatusURL string
	// Notebooks the participant left, kept until NotebooksUntil (nil: none).
	Notebooks      *wod.Notebooks
	NotebooksUntil time.Time
	Jobs           []*wod.Job
	Mails          []*wod.Mail
	Back           string
}

func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

func (p *Pages) adminRegistration(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such registration.")
		return
	}
	ctx := r.Context()
	reg, err := p.Registrations.FindRegistration(ctx, id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := &registrationData{R: reg, Actions: actionsFor(reg), StatusURL: "/status/" + p.Keys.StatusToken(reg.ID),
		Back: r.URL.RequestURI()}
	c, err := engine.Credentials(ctx, p.Locations, p.Keys, reg)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.StudentID, d.LoginURL, d.Password = c.StudentID, c.LoginURL, c.Password
	if n, err := p.Registrations.FindNotebooks(ctx, id, false); err == nil {
		if until := n.KeptAt.Add(p.NotebookRetention); until.After(p.Clock.Now()) {
			d.Notebooks, d.NotebooksUntil = n, until
		}
	} else if wod.ErrorCode(err) != wod.ENOTFOUND {
		p.fail(w, r, err)
		return
	}
	if d.Jobs, _, err = p.Jobs.FindJobs(ctx, wod.JobFilter{RegistrationID: &id, Page: wod.Page{Limit: wod.MaxLimit}}); err != nil {
		p.fail(w, r, err)
		return
	}
	if d.Mails, _, err = p.Mails.FindMails(ctx, wod.MailFilter{RegistrationID: &id}); err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "admin/registration.html",
		p.adminView(w, r, a, "registrations", fmt.Sprintf("Registration %d", reg.ID), d))
}

// adminBack keeps the redirect after an action on our admin pages.
func adminBack(back, fallback string) string {
	if strings.HasPrefix(back, "/admin/") && !strings.ContainsAny(back, "\\\r\n") {
		return back
	}
	return fallback
}

func (p *Pages) registrationAction(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such registration.")
		return
	}
	ctx, actor := r.Context(), a.Caller.Name
	back := adminBack(r.PostFormValue("back"), "/admin/registrations/"+strconv.FormatInt(id, 10))
	var err error
	var msg string
	switch r.PathValue("action") {
	case "end":
		_, err = p.Registrar.EndNow(ctx, id, actor)
		msg = fmt.Sprintf("Registration %d is ending: its environment is being measured and wiped.", id)
	case "extend":
		by, perr := time.ParseDuration(r.PostFormValue("by"))
		if perr != nil {
			err = &wod.Error{Code: wod.EINVALID, Message: "the extension is not valid",
				Fields: []wod.FieldError{{Field: "by", Message: "must be a duration such as 30m or 1h"}}}
			break
		}
		var reg *wod.Registration
		if reg, err = p.Registrar.Extend(ctx, id, by, actor); err == nil {
			msg = fmt.Sprintf("Registration %d extended by %s: it now ends %s.", id, wod.Duration(by), utc(reg.EndsAt))
		}
	case "resend":
		err = p.Registrar.Resend(ctx, id, actor)
		msg = fmt.Sprintf("The credentials of registration %d are on their way again.", id)
	case "purge":
		_, err = p.Registrar.Purge(ctx, id, actor)
		msg = fmt.Sprintf("Registration %d is being purged: its seat is wiped and freed.", id)
	default:
		p.notFound(w, r, "There is no such action on a registration.")
		return
	}
	if err != nil {
		p.actionFailed(w, r, back, err)
		return
	}
	p.done(w, r, back, msg)
}
