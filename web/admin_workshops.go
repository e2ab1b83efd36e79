package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

func (p *Pages) registerAdminWorkshops(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/workshops", p.admin(wod.RoleModerator, p.adminWorkshops))
	mux.HandleFunc("POST /admin/import", p.admin(operator.CatalogueChangeRole, p.importWorkshops))
	mux.HandleFunc("GET /admin/workshops/{slug}", p.admin(wod.RoleModerator, p.editWorkshop))
	mux.HandleFunc("POST /admin/workshops/{slug}", p.admin(operator.WorkshopEditRole, p.updateWorkshop))
	mux.HandleFunc("POST /admin/workshops/{slug}/activate", p.admin(operator.WorkshopEditRole, p.setWorkshopActive(true)))
	mux.HandleFunc("POST /admin/workshops/{slug}/deactivate", p.admin(operator.WorkshopEditRole, p.setWorkshopActive(false)))
	mux.HandleFunc("POST /admin/workshops/{slug}/clear-overrides", p.admin(operator.WorkshopEditRole, p.clearOverrides))
}

type workshopsData struct {
	Workshops []*wod.Workshop
	// CanEdit and CanImport hide the buttons a caller could only be refused.
	CanEdit, CanImport bool
	// HasContent: a content directory is configured, so import can work.
	HasContent bool
	// Rehearsals are the workshops' last rehearsals, by slug.
	Rehearsals map[string]*rehearsalRow
	// Repos are the content repositories the server follows, with their
	// commits and last errors; Hook and HookSecret their push webhook,
	// the secret for admins only.
	Repos            []*wod.ContentRepo
	ReposError       string
	Hook, HookSecret string
	Now              time.Time
}

func (p *Pages) adminWorkshops(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	ws, _, err := p.Workshops.FindWorkshops(r.Context(), wod.WorkshopFilter{Page: wod.Page{Limit: wod.MaxLimit}})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := &workshopsData{Workshops: ws, CanEdit: a.Caller.Role.Allows(operator.WorkshopEditRole),
		CanImport: a.Caller.Role.Allows(operator.CatalogueChangeRole), HasContent: p.Operator.HasContent(),
		Rehearsals: p.lastRehearsals(r), Now: p.Clock.Now()}
	if p.Operator.FollowsRepos() {
		repos, err := p.Operator.ContentStatus(r.Context())
		if err != nil {
			d.ReposError = wod.ErrorMessage(err)
		}
		d.Repos, d.Hook = repos, p.ContentHookURL
		if a.Caller.Role.Allows(wod.RoleAdmin) {
			d.HookSecret = p.ContentHookSecret
		}
	}
	p.render(w, r, http.StatusOK, "admin/workshops.html", p.adminView(w, r, a, "workshops", "Workshops", d))
}

func (p *Pages) setWorkshopActive(active bool) func(http.ResponseWriter, *http.Request, *adminRequest) {
	return func(w http.ResponseWriter, r *http.Request, a *adminRequest) {
		ws, err := p.Operator.SetWorkshopActive(r.Context(), a.Caller, r.PathValue("slug"), active)
		if err != nil {
			p.actionFailed(w, r, "/admin/workshops", err)
			return
		}
		msg := ws.Slug + " is open for registration again."
		if !active {
			msg = ws.Slug + " is closed: it no longer shows in the catalogue. Running sessions go on."
		}
		p.done(w, r, "/admin/workshops", msg)
	}
}

func (p *Pages) clearOverrides(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	slug := r.PathValue("slug")
	ws, err := p.Operator.UpdateWorkshop(r.Context(), a.Caller, slug,
		operator.WorkshopChange{WorkshopUpdate: wod.WorkshopUpdate{ClearOverrides: true}})
	if err != nil {
		p.actionFailed(w, r, "/admin/workshops/"+url.PathEscape(slug), err)
		return
	}
	p.done(w, r, "/admin/workshops/"+url.PathEscape(ws.Slug),
		"The next content import sets every field of "+ws.Slug+" again.")
}

// importFlashRunes keeps the flash, which travels in a cookie, well under
// the 4 KB browsers accept.
const importFlashRunes = 1500

func (p *Pages) importWorkshops(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	if !p.Operator.HasContent() {
		p.done(w, r, "/admin/workshops", "Not done: this server has no content directory. "+
			"Start it with --content DIR or --content-repo URL to import workshops from there.")
		return
	}
	res, err := p.Operator.ReimportContent(r.Context(), a.Caller)
	if err != nil {
		var e *wod.Error
		if errors.As(err, &e) && e.Code == wod.EINVALID {
			// Content checks report one field per problem; the list can be
			// long, so it is cut here rather than lost with the cookie.
			msg := "Not done: " + e.Message
			for _, f := range e.Fields {
				msg += "; " + f.Field + ": " + f.Message
			}
			p.done(w, r, "/admin/workshops", truncate(importFlashRunes, msg))
			return
		}
		p.actionFailed(w, r, "/admin/workshops", err)
		return
	}
	p.done(w, r, "/admin/workshops", truncate(importFlashRunes, importSummary(res)))
}

// importSummary names every workshop that changed and counts the rest.
func importSummary(res []wod.ImportResult) string {
	var parts []string
	unchanged := 0
	for _, x := range res {
		switch {
		case x.Action == "unchanged" && len(x.Kept) == 0:
			unchanged++
		default:
			s := x.Slug + " " + x.Action
			var notes []string
			if len(x.Changed) > 0 {
				notes = append(notes, strings.Join(x.Changed, ", "))
			}
			if len(x.Kept) > 0 {
				notes = append(notes, "kept operator's "+strings.Join(x.Kept, ", "))
			}
			if len(notes) > 0 {
				s += " (" + strings.Join(notes, "; ") + ")"
			}
			parts = append(parts, s)
		}
	}
	if unchanged > 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", unchanged))
	}
	if len(parts) == 0 {
		return "Imported: the content holds no workshop."
	}
	msg := "Imported " + strconv.Itoa(len(res)) + " workshops: " + strings.Join(parts, "; ") + "."
	var warnings []string
	for _, x := range res {
		warnings = append(warnings, x.Warnings...)
	}
	if len(warnings) > 0 {
		msg += " Warning: " + strings.Join(warnings, "; ") + "."
	}
	return msg
}

// workshopField is one input of the edit form, with what the operator
// typed and what is wrong with it.
type workshopField struct {
	Name, Label, Type, Value, Error, Help string
	Options                               []string
	// Overridden: an operator changed the field, so imports leave it alone.
	Overridden bool
}

type workshopFormData struct {
	W       *wod.Workshop
	Fields  []workshopField
	Problem string
	CanEdit bool
}

// workshopInputs lays the form out; values come from workshopValues.
var workshopInputs = []workshopField{
	{Name: "title", Label: "Title", Type: "text"},
	{Name: "description", Label: "Description", Type: "textarea"},
	{Name: "categories", Label: "Categories", Type: "text", Help: "Comma-separated, e.g. API, Python"},
	{Name: "duration", Label: "Duration", Type: "text", Help: "Hours (\"4\") or a duration such as 2h or 1h30m"},
	{Name: "capacity", Label: "Capacity", Type: "number", Help: "Most seats held at once"},
	{Name: "seat_min", Label: "First seat", Type: "number", Help: "Local student number the seat range starts at"},
	{Name: "seat_max", Label: "Last seat", Type: "number"},
	{Name: "locations", Label: "Locations", Type: "text",
		Help: "Comma-separated, the first one first; name:MIN-MAX gives a location its own seat range. Each registration goes to one whose agent is alive, with the most free seats"},
	{Name: "active", Label: "Active (in the catalogue, open for registration)", Type: "checkbox"},
	{Name: "beta", Label: "Beta", Type: "checkbox"},
	{Name: "priority", Label: "Priority", Type: "number", Help: "Catalogue order, ascending"},
	{Name: "presenter", Label: "Presenter", Type: "text"},
	{Name: "presenter_role", Label: "Presenter's role", Type: "text"},
	{Name: "avatar", Label: "Presenter's avatar URL", Type: "text"},
	{Name: "image", Label: "Image URL", Type: "text"},
	{Name: "badge_image", Label: "Badge image URL", Type: "text"},
	{Name: "reset", Label: "Reset (keep seats dirty after cleanup until a reset job has run)", Type: "checkbox"},
	{Name: "ldap", Label: "LDAP", Type: "checkbox"},
	{Name: "varpass", Label: "Variable password (varpass)", Type: "checkbox"},
	{Name: "compile", Label: "Scripts to compile", Type: "text", Help: "Comma-separated"},
	{Name: "appliance", Label: "Appliance", Type: "select",
		Options: []string{string(wod.ApplianceNone), string(wod.ApplianceMono), string(wod.ApplianceMulti)}},
	{Name: "session_type", Label: "Session type", Type: "select",
		Options: []string{string(wod.SessionWorkshop), string(wod.SessionChallenge)}},
	{Name: "replay_id", Label: "Replay id", Type: "number"},
	{Name: "replay_link", Label: "Replay link", Type: "text"},
	{Name: "prerequisite", Label: "Prerequisite", Type: "textarea"},
	{Name: "warm", Label: "Warm seats", Type: "text",
		Help: "Seats kept prepared, server running, before anyone registers: a number, or auto (sized from the last hour's arrivals); 0: none"},
	{Name: "extend", Label: "Participants may add", Type: "text",
		Help: "Time a participant may add to their session once, from the status page or the reminder, while nobody waits for a seat: e.g. 30m; empty or 0: none"},
	{Name: "opens", Label: "Opens for registration", Type: "text",
		Help: "RFC 3339 with the zone, e.g. 2026-12-10T09:00:00Z; before it, nobody books or joins the line. Empty: no opening time"},
	{Name: "closes", Label: "Closes for registration", Type: "text",
		Help: "RFC 3339 with the zone, e.g. 2026-12-10T18:00:00Z; from then on, nobody books, the workshop leaves the catalogue and whoever waits leaves the line. Running sessions are not cut. Empty: no closing time"},
	{Name: "limits", Label: "Limits per student", Type: "text",
		Help: "e.g. memory 2G, cpus 1, tasks 512, disk 5G (K, M, G, T are powers of 1024); any left out is the agent's default"},
}

// workshopValues is a workshop as the form shows it.
func workshopValues(w *wod.Workshop) map[string]string {
	b := strconv.FormatBool
	return map[string]string{
		"title": w.Title, "description": w.Description, "categories": strings.Join(w.Categories, ", "),
		"duration": w.Duration.String(), "capacity": strconv.Itoa(w.Capacity), "seat_min": strconv.Itoa(w.SeatMin),
		"seat_max": strconv.Itoa(w.SeatMax), "locations": strings.Join(w.Locations, ", "), "active": b(w.Active), "beta": b(w.Beta),
		"priority": strconv.Itoa(w.Priority), "presenter": w.Presenter, "presenter_role": w.PresenterRole,
		"avatar": w.Avatar, "image": w.Image, "badge_image": w.BadgeImage, "reset": b(w.Reset), "ldap": b(w.LDAP),
		"varpass": b(w.VarPass), "compile": strings.Join(w.Compile, ", "), "appliance": string(w.Appliance),
		"session_type": string(w.SessionType), "replay_id": strconv.Itoa(w.ReplayID), "replay_link": w.ReplayLink,
		"prerequisite": w.Prerequisite, "limits": limitsValue(w.Limits), "warm": w.Warm.String(),
		"extend": extendValue(w.Extend), "opens": wod.FormatWorkshopDate(w.Opens),
		"closes": wod.FormatWorkshopDate(w.Closes),
	}
}

// extendValue shows a workshop's extend in the form; none is empty.
func extendValue(d wod.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// limitsValue shows limits in the form; none set is an empty field (the
// agent's defaults apply), not "no limits".
func limitsValue(l wod.Limits) string {
	if l.IsZero() {
		return ""
	}
	return l.String()
}

func (p *Pages) editWorkshop(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	ws, err := p.Workshops.FindWorkshop(r.Context(), r.PathValue("slug"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.renderWorkshopForm(w, r, a, http.StatusOK, ws, workshopValues(ws), nil, "")
}

func (p *Pages) renderWorkshopForm(w http.ResponseWriter, r *http.Request, a *adminRequest, status int,
	ws *wod.Workshop, values, errs map[string]string, problem string) {
	var locations []string
	if ls, err := p.Locations.FindLocations(r.Context()); err == nil {
		for _, l := range ls {
			locations = append(locations, l.Name)
		}
	} else {
		p.fail(w, r, err)
		return
	}
	d := &workshopFormData{W: ws, Problem: problem, CanEdit: a.Caller.Role.Allows(operator.WorkshopEditRole)}
	for _, f := range workshopInputs {
		f.Value, f.Error = values[f.Name], errs[f.Name]
		f.Overridden = slices.Contains(ws.Overrides, f.Name)
		if f.Name == "locations" {
			f.Help += " (there are: " + strings.Join(locations, ", ") + ")"
		}
		d.Fields = append(d.Fields, f)
	}
	title := ws.Slug
	if problem != "" {
		title = "Please check " + ws.Slug
	}
	p.render(w, r, status, "admin/workshop.html", p.adminView(w, r, a, "workshops", title, d))
}

// updateWorkshop saves the fields whose value the operator changed, and
// only those, so that Overrides name what an operator decided rather than
// everything the form happened to send back.
func (p *Pages) updateWorkshop(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	ws, err := p.Workshops.FindWorkshop(r.Context(), r.PathValue("slug"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	e := &workshopEdit{form: r.PostForm, values: workshopValues(ws), errs: map[string]string{}}
	c := operator.WorkshopChange{WorkshopUpdate: e.parse(ws)}
	if loc, ok := e.changed("location", ws.Location); ok {
		// The form of before a workshop had several locations.
		c.Location = &loc
	}
	if locs, ok := e.changed("locations", strings.Join(ws.Locations, ", ")); ok {
		var names []string
		for n := range strings.SplitSeq(locs, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		c.Locations = &names
	}
	if len(e.errs) > 0 {
		p.renderWorkshopForm(w, r, a, http.StatusUnprocessableEntity, ws, e.values, e.errs, workshopFormProblem)
		return
	}
	fields := c.Fields()
	if len(fields) == 0 {
		p.done(w, r, "/admin/workshops/"+url.PathEscape(ws.Slug), "Nothing changed.")
		return
	}
	saved, err := p.Operator.UpdateWorkshop(r.Context(), a.Caller, ws.Slug, c)
	if err != nil {
		var we *wod.Error
		if !errors.As(err, &we) || we.Code != wod.EINVALID {
			p.actionFailed(w, r, "/admin/workshops/"+url.PathEscape(ws.Slug), err)
			return
		}
		p.renderWorkshopForm(w, r, a, http.StatusUnprocessableEntity, ws, e.values, e.errs, e.refused(we))
		return
	}
	p.done(w, r, "/admin/workshops/"+url.PathEscape(saved.Slug), "Saved "+saved.Slug+": "+strings.Join(fields, ", ")+".")
}

// workshopFormProblem heads a form whose every problem is marked at its
// field.
const workshopFormProblem = "Nothing was saved: please correct the fields marked below."

// refused marks the fields the operator service refused at the form's
// inputs, and returns the problem that heads the form: what could not be
// marked at an input is spelled out there.
func (e *workshopEdit) refused(we *wod.Error) string {
	var rest []string
	for _, f := range we.Fields {
		if limit, ok := strings.CutPrefix(f.Field, "limits."); ok {
			// One form field holds the four limits.
			e.errs["limits"] = strings.TrimPrefix(e.errs["limits"]+"; ", "; ") + limit + ": " + f.Message
		} else if _, ok := e.values[f.Field]; ok {
			e.errs[f.Field] = f.Message
		} else {
			rest = append(rest, " "+f.Sentence()+".")
		}
	}
	if len(rest) == 0 && len(we.Fields) > 0 {
		return workshopFormProblem
	}
	return "Nothing was saved: " + we.Message + "." + strings.Join(rest, "")
}

// workshopEdit reads the edit form against the stored workshop. A field the
// form did not send keeps its value.
type workshopEdit struct {
	form   url.Values
	values map[string]string // as typed, to show again
	errs   map[string]string
}

// changed returns the typed value of a field when it differs from cur.
// Browsers send a textarea's line breaks as CRLF, which must not count as a
// change.
func (e *workshopEdit) changed(name, cur string) (string, bool) {
	vs, ok := e.form[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	// A checkbox follows a hidden "false" of the same name: the last wins.
	v := strings.ReplaceAll(vs[len(vs)-1], "\r\n", "\n")
	e.values[name] = v
	if v == cur || strings.TrimSpace(v) == cur {
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (e *workshopEdit) text(name, cur string) *string {
	if v, ok := e.changed(name, cur); ok {
		return &v
	}
	return nil
}

func (e *workshopEdit) number(name string, cur int) *int {
	v, ok := e.changed(name, strconv.Itoa(cur))
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs[name] = "must be a whole number"
		return nil
	}
	if n == cur {
		return nil
	}
	return &n
}

func (e *workshopEdit) flag(name string, cur bool) *bool {
	v, ok := e.changed(name, strconv.FormatBool(cur))
	if !ok {
		return nil
	}
	b := v == "true" || v == "on"
	if b == cur {
		return nil
	}
	return &b
}

func (e *workshopEdit) list(name string, cur []string) *[]string {
	v, ok := e.changed(name, strings.Join(cur, ", "))
	if !ok {
		return nil
	}
	out := []string{}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if slices.Equal(out, cur) || len(out) == 0 && len(cur) == 0 {
		return nil
	}
	return &out
}

// date reads an opening or closing time; empty removes it.
func (e *workshopEdit) date(name string, cur time.Time) *time.Time {
	v, ok := e.changed(name, wod.FormatWorkshopDate(cur))
	if !ok {
		return nil
	}
	t, err := wod.ParseWorkshopDate(v)
	switch {
	case err != nil:
		e.errs[name] = err.Error()
	case !t.Equal(cur):
		return &t
	}
	return nil
}

func (e *workshopEdit) parse(w *wod.Workshop) wod.WorkshopUpdate {
	u := wod.WorkshopUpdate{
		Title: e.text("title", w.Title), Description: e.text("description", w.Description),
		Categories: e.list("categories", w.Categories), Capacity: e.number("capacity", w.Capacity),
		SeatMin: e.number("seat_min", w.SeatMin), SeatMax: e.number("seat_max", w.SeatMax),
		Active: e.flag("active", w.Active), Beta: e.flag("beta", w.Beta), Priority: e.number("priority", w.Priority),
		Reset: e.flag("reset", w.Reset), LDAP: e.flag("ldap", w.LDAP), VarPass: e.flag("varpass", w.VarPass),
		Compile: e.list("compile", w.Compile), Presenter: e.text("presenter", w.Presenter),
		PresenterRole: e.text("presenter_role", w.PresenterRole), Avatar: e.text("avatar", w.Avatar),
		Image: e.text("image", w.Image), BadgeImage: e.text("badge_image", w.BadgeImage),
		ReplayID: e.number("replay_id", w.ReplayID), ReplayLink: e.text("replay_link", w.ReplayLink),
		Prerequisite: e.text("prerequisite", w.Prerequisite),
	}
	if v, ok := e.changed("duration", w.Duration.String()); ok {
		d, err := wod.ParseDuration(v)
		switch {
		case err != nil:
			e.errs["duration"] = err.Error()
		case d != w.Duration:
			u.Duration = &d
		}
	}
	if v, ok := e.changed("limits", limitsValue(w.Limits)); ok {
		l, err := wod.ParseLimits(v)
		switch {
		case err != nil:
			e.errs["limits"] = err.Error()
		case l != w.Limits:
			u.Limits = &l
		}
	}
	if v, ok := e.changed("warm", w.Warm.String()); ok {
		p, err := wod.ParseWarmPool(v)
		switch {
		case err != nil:
			e.errs["warm"] = err.Error()
		case p != w.Warm:
			u.Warm = &p
		}
	}
	if v, ok := e.changed("extend", extendValue(w.Extend)); ok {
		var d wod.Duration
		var err error
		if v = strings.TrimSpace(v); v != "" {
			d, err = wod.ParseDuration(v)
		}
		switch {
		case err != nil:
			e.errs["extend"] = err.Error()
		case d != w.Extend:
			u.Extend = &d
		}
	}
	u.Opens, u.Closes = e.date("opens", w.Opens), e.date("closes", w.Closes)
	if v, ok := e.changed("appliance", string(w.Appliance)); ok {
		m := wod.ApplianceMode(v)
		u.Appliance = &m
	}
	if v, ok := e.changed("session_type", string(w.SessionType)); ok {
		t := wod.SessionType(v)
		u.SessionType = &t
	}
	return u
}
