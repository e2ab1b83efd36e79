package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
)

// legacyCustomerRequest is the body the original frontend posts to
// POST /api/customer.
type legacyCustomerRequest struct {
	Name               string `json:"name"`
	Email              string `json:"email"`
	Company            string `json:"company"`
	Title              string `json:"title"`
	Notebook           string `json:"notebook"`
	SessionType        string `json:"sessionType"`
	Location           string `json:"location"`
	TermsAndConditions any    `json:"termsAndConditions"`
	Proxy              string `json:"proxy"`
}

// The original's answers to a registration it cannot take. Its frontend
// shows them as they are.
const (
	legacyFullText = "Registration full, capacity exceeded. Please try again later"
)

// legacyRegister is POST /api/customer: a registration through the engine
// (one transaction books the seat: no race), answered with the original's
// statuses: 200 {id,name,email,studentId,proxy}; 202 {id,title,endDate}
// when the address already has a workshop running; 202 with the original's
// text when the workshop is full. What wod refuses (a disposable or
// denied address, an unknown workshop, too many registrations from one
// address) is answered as wod's own API does, with the reason: the
// original's empty 200 told a refused participant they were registered.
func (s *Server) legacyRegister(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	ctx := r.Context()
	var in legacyCustomerRequest
	if err := decodeLegacy(r, &in); err != nil {
		return err
	}
	slug, err := s.legacyWorkshopSlug(ctx, p, in)
	if err != nil {
		return err
	}
	ip := ClientIP(ctx)
	if !p.moderator() {
		if ok, wait := s.limiter.allow(ip); !ok {
			return &wod.Error{Code: wod.ERATELIMITED, RetryAfter: wait,
				Message: "too many registrations from your address; please wait a minute"}
		}
	}
	reg, err := s.Registrar.Register(ctx, wod.RegistrationRequest{Workshop: slug, Name: in.Name, Email: in.Email,
		Company: in.Company, ClientIP: ip})
	switch wod.ErrorCode(err) {
	case "":
	case wod.EFULL:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(legacyFullText))
		return nil
	case wod.EALREADYREGISTERED:
		return s.legacyAlreadyRegistered(w, r, in.Email, err)
	default:
		return err
	}
	c, err := engine.Credentials(ctx, s.Locations, s.Keys, reg)
	if err != nil {
		return err
	}
	proxy := in.Proxy
	if proxy == "" {
		proxy = "wod"
	}
	writeLegacyJSON(w, http.StatusOK, map[string]any{"id": reg.ID, "name": reg.Name, "email": reg.Email,
		"studentId": c.StudentID, "proxy": proxy})
	return nil
}

// legacyWorkshopSlug names the workshop a registration is for: by its
// notebook (wod's slug), which the frontend sends, else by its title, the
// original's join key.
func (s *Server) legacyWorkshopSlug(ctx context.Context, p *legacyPrincipal, in legacyCustomerRequest) (string, error) {
	if n := strings.TrimSpace(in.Notebook); n != "" {
		return n, nil
	}
	title := strings.TrimSpace(in.Title)
	if title == "" {
		return "", invalid("notebook", "is required (or title, the workshop's name)")
	}
	ws, err := s.legacyCatalogue(ctx, p, nil)
	if err != nil {
		return "", err
	}
	for _, w := range ws {
		if w.Title == title {
			return w.Slug, nil
		}
	}
	return "", invalid("title", "names no workshop open for registration")
}

// legacyAlreadyRegistered answers 202 {id,title,endDate}: the original
// frontend shows when the running workshop ends and offers to unregister
// it, which needs its id (and the student credentials, which only the
// participant has).
func (s *Server) legacyAlreadyRegistered(w http.ResponseWriter, r *http.Request, email string, cause error) error {
	ctx := r.Context()
	e := strings.ToLower(strings.TrimSpace(email))
	rs, _, err := s.Registrations.FindRegistrations(ctx, wod.RegistrationFilter{Email: &e, Page: wod.Page{Limit: 20}})
	if err != nil {
		return err
	}
	for _, reg := range rs {
		if !reg.State.Live() {
			continue
		}
		wk, err := s.Workshops.FindWorkshop(ctx, reg.Workshop)
		if err != nil {
			return err
		}
		end := legacyEndDate(reg, wk)
		if we, ok := cause.(*wod.Error); ok && we.EndsAt != nil {
			end = *we.EndsAt
		}
		writeLegacyJSON(w, http.StatusAccepted, map[string]any{"id": reg.ID, "title": wk.Title, "endDate": end})
		return nil
	}
	// It ended in between: say so as wod does.
	return cause
}

// legacyEndDate is when a registration ends, or, before its clock starts,
// the earliest it can.
func legacyEndDate(reg *wod.Registration, wk *wod.Workshop) time.Time {
	switch {
	case reg.EndedAt != nil:
		return *reg.EndedAt
	case reg.EndsAt != nil:
		return *reg.EndsAt
	}
	return reg.CreatedAt.Add(time.Duration(wk.Duration))
}

// legacyLastEmail is the original's lastEmailSent for a state: where the
// original's loop would stand (reference §2.6).
func legacyLastEmail(st wod.RegistrationState) string {
	switch st {
	case wod.StatePending:
		return "welcome"
	case wod.StateReady:
		return "credentials"
	case wod.StateExpiring:
		return "expiring"
	case wod.StateFailed:
		return "error"
	}
	return "expired"
}

// legacyCustomerView is GET /api/customers/:id's answer.
func (s *Server) legacyCustomerView(ctx context.Context, reg *wod.Registration) (map[string]any, error) {
	wk, err := s.Workshops.FindWorkshop(ctx, reg.Workshop)
	if err != nil {
		return nil, err
	}
	c, err := engine.Credentials(ctx, s.Locations, s.Keys, reg)
	if err != nil {
		return nil, err
	}
	var studentID any
	if c.StudentID != 0 {
		studentID = c.StudentID
	}
	start := reg.CreatedAt
	if reg.ReadyAt != nil {
		start = *reg.ReadyAt
	}
	completion := 0
	if reg.Completion != nil {
		completion = *reg.Completion
	}
	return map[string]any{"id": reg.ID, "name": reg.Name, "email": reg.Email, "company": reg.Company,
		"sessionName": wk.Title, "sessionType": legacySessionType(wk.SessionType), "location": reg.Location,
		"notebook": reg.Workshop, "proxy": "wod", "active": reg.State.Running(),
		"cleaned":       legacyCleaned(reg),
		"lastEmailSent": legacyLastEmail(reg.State), "hours": legacyHours(wk.Duration),
		"startDate": start, "endDate": legacyEndDate(reg, wk), "studentId": studentID,
		"specialBadgeId": nil, "completionPercentage": completion,
		"createdAt": reg.CreatedAt, "updatedAt": reg.UpdatedAt}, nil
}

// legacyCustomer reads the registration the path names, for a caller who
// holds it (its participant) or a moderator.
func (s *Server) legacyCustomer(r *http.Request, p *legacyPrincipal) (*wod.Registration, error) {
	id, err := legacyID(r)
	if err != nil {
		return nil, err
	}
	if !p.holds(id) {
		return nil, errLegacyModerator
	}
	return s.Registrations.FindRegistration(r.Context(), id)
}

// legacyGetCustomer is GET /api/customers/:id.
func (s *Server) legacyGetCustomer(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	reg, err := s.legacyCustomer(r, p)
	if err != nil {
		return err
	}
	v, err := s.legacyCustomerView(r.Context(), reg)
	if err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, v)
	return nil
}

// legacyUnregister is PUT /api/customer/unregister/:id: the participant
// (with the token of their student credentials) or a moderator ends the
// registration now, through the engine.
func (s *Server) legacyUnregister(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	reg, err := s.legacyCustomer(r, p)
	if err != nil {
		return err
	}
	actor := "participant"
	if p.moderator() {
		actor = p.Caller.Name
	}
	if reg, err = s.Registrar.EndNow(r.Context(), reg.ID, actor); err != nil {
		return err
	}
	v, err := s.legacyCustomerView(r.Context(), reg)
	if err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, v)
	return nil
}

// legacyFields reads a PUT body of the original's mass assignment: its
// backend sends every value as a string ("true", "12"), others may not.
func legacyFields(r *http.Request) (map[string]string, error) {
	var raw map[string]any
	if err := decodeLegacy(r, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
			out[k] = "null"
		case string:
			out[k] = v
		case float64, bool:
			out[k] = fmt.Sprint(v)
		default:
			return nil, invalid(k, "must be a string, a number or a boolean")
		}
	}
	return out, nil
}

// legacyPutCustomer is PUT /api/customer/:id for moderators. At a
// location a wod agent drives, the registration's fields follow its
// lifecycle: what maps onto an engine action is done (lastEmailSent
// "unregister" ends it now; a later endDate extends it), a value it
// already has is accepted, anything else is refused with the reason.
// Legacy locations (issue 12, part 2) take the backend's callbacks here.
func (s *Server) legacyPutCustomer(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	ctx := r.Context()
	reg, err := s.legacyCustomer(r, p)
	if err != nil {
		return err
	}
	fields, err := legacyFields(r)
	if err != nil {
		return err
	}
	v, err := s.legacyCustomerView(ctx, reg)
	if err != nil {
		return err
	}
	if reg, fields, err = s.legacyBackendCustomer(ctx, reg, fields); err != nil {
		return err
	}
	if v, err = s.legacyCustomerView(ctx, reg); err != nil {
		return err
	}
	var refused []string
	var end, extend bool
	var extendTo time.Time
	for k, val := range fields {
		switch {
		case k == "lastEmailSent" && val == "unregister":
			end = true
		case k == "endDate":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return invalid("endDate", "must be an RFC 3339 time")
			}
			if cur, _ := v["endDate"].(time.Time); !t.Equal(cur) {
				extend, extendTo = true, t
			}
		case k == "id" || legacySame(v[k], val):
		default:
			refused = append(refused, k)
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return wod.Errorf(wod.ECONFLICT, "customer %d is at location %s, which %s: %s follow(s) its "+
			"lifecycle and cannot be set here (an operator ends, extends or purges it; this route ends it with "+
			"lastEmailSent \"unregister\" and extends it with a later endDate)", reg.ID, reg.Location,
			s.legacyDriver(ctx, reg.Location), strings.Join(refused, ", "))
	}
	if extend {
		if reg.EndsAt == nil || !reg.State.Running() || !extendTo.After(*reg.EndsAt) {
			return wod.Errorf(wod.ECONFLICT, "endDate can only move later, while the workshop runs")
		}
		if reg, err = s.Registrar.Extend(ctx, reg.ID, extendTo.Sub(*reg.EndsAt), p.Caller.Name); err != nil {
			return err
		}
	}
	if end {
		if reg, err = s.Registrar.EndNow(ctx, reg.ID, p.Caller.Name); err != nil {
			return err
		}
	}
	if v, err = s.legacyCustomerView(ctx, reg); err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, v)
	return nil
}

// legacySame reports whether a string the backend sent is the value a
// field already has.
func legacySame(cur any, val string) bool {
	switch c := cur.(type) {
	case nil:
		return val == "null" || val == ""
	case time.Time:
		t, err := time.Parse(time.RFC3339Nano, val)
		return err == nil && t.Equal(c)
	}
	return fmt.Sprint(cur) == val
}

// legacyStudent is the seat of a global student id, as the original's
// students row.
type legacyStudent struct {
	loc  *wod.Location
	seat *wod.Seat
	reg  *wod.Registration // the live registration holding it, if any
}

// legacyFindStudent maps a global student id (a location's base plus the
// seat number, the original's basestdid scheme) to its seat.
func (s *Server) legacyFindStudent(ctx context.Context, id int64) (*legacyStudent, error) {
	ls, err := s.Locations.FindLocations(ctx)
	if err != nil {
		return nil, err
	}
	var match []*wod.Location
	for _, l := range ls {
		if n := id - int64(l.BaseStudentID); n >= 1 && n <= int64(l.Students) {
			match = append(match, l)
		}
	}
	switch len(match) {
	case 0:
		return nil, notFound("no student %d: no location's seats have that id", id)
	case 1:
	default:
		names := make([]string, len(match))
		for i, l := range match {
			names[i] = l.Name
		}
		return nil, wod.Errorf(wod.ECONFLICT, "student %d is ambiguous: locations %s overlap (give them base "+
			"student ids that do not)", id, strings.Join(names, ", "))
	}
	l := match[0]
	n := int(id) - l.BaseStudentID
	st := &legacyStudent{loc: l}
	for page := 0; st.seat == nil; page++ {
		seats, total, err := s.Seats.FindSeats(ctx, wod.SeatFilter{LocationID: &l.ID, Page: wod.Page{Limit: 1000, Offset: page * 1000}})
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(seats, func(x *wod.Seat) bool { return x.Number == n }); i >= 0 {
			st.seat = seats[i]
		} else if len(seats) == 0 || (page+1)*1000 >= total {
			return nil, notFound("no student %d", id)
		}
	}
	if st.seat.RegistrationID != nil && st.seat.State == wod.SeatAssigned {
		reg, err := s.Registrations.FindRegistration(ctx, *st.seat.RegistrationID)
		if err != nil {
			return nil, err
		}
		if reg.State.Live() {
			st.reg = reg
		}
	}
	return st, nil
}

func (s *Server) legacyStudentView(st *legacyStudent) (map[string]any, error) {
	v := map[string]any{"id": st.seat.StudentID, "username": st.seat.Username, "assigned": st.seat.State != wod.SeatFree,
		"location": st.loc.Name, "url": nil, "password": nil}
	if st.loc.HubURL != "" {
		v["url"] = st.loc.HubURL + "/user/" + st.seat.Username + "/lab?"
	}
	if st.reg != nil {
		pw, running, err := engine.StudentPassword(s.Keys, st.reg)
		if err != nil {
			return nil, err
		}
		if running {
			v["password"] = pw
		}
	}
	return v, nil
}

// legacyGetStudent is GET /api/students/:id, for moderators and for the
// participant whose registration holds the seat (the original frontend
// reads it to check the credentials typed in its unregister dialog).
func (s *Server) legacyGetStudent(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	id, err := legacyID(r)
	if err != nil {
		return err
	}
	st, err := s.legacyFindStudent(r.Context(), id)
	if err != nil {
		if !p.moderator() && wod.ErrorCode(err) == wod.ENOTFOUND {
			return errLegacyModerator // a participant learns nothing of other seats
		}
		return err
	}
	if !p.moderator() && (st.reg == nil || !p.holds(st.reg.ID)) {
		return errLegacyModerator
	}
	v, err := s.legacyStudentView(st)
	if err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, v)
	return nil
}

// legacyPutStudent is PUT /api/student/:id for moderators. A seat at a
// location a wod agent drives gets its password and assignment from the
// registrations' lifecycle: values it already has are accepted (a
// backend's idempotent report), others refused with the reason.
func (s *Server) legacyPutStudent(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	id, err := legacyID(r)
	if err != nil {
		return err
	}
	fields, err := legacyFields(r)
	if err != nil {
		return err
	}
	st, err := s.legacyFindStudent(r.Context(), id)
	if err != nil {
		return err
	}
	if st, fields, err = s.legacyBackendStudent(r.Context(), id, st, fields); err != nil {
		return err
	}
	v, err := s.legacyStudentView(st)
	if err != nil {
		return err
	}
	var refused []string
	for k, val := range fields {
		if k != "id" && !legacySame(v[k], val) {
			refused = append(refused, k)
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return wod.Errorf(wod.ECONFLICT, "student %d is a seat of location %s, which %s: %s "+
			"follow(s) the registrations' lifecycle and cannot be set here", id, st.loc.Name,
			s.legacyDriver(r.Context(), st.loc.Name), strings.Join(refused, ", "))
	}
	writeLegacyJSON(w, http.StatusOK, v)
	return nil
}

// legacyCleaned is the original's "cleaned": the cleanup is over. A
// backend's RESET and PURGE wait for it (up to 15 minutes), so a failed
// registration, whose cleanup will never come, counts as cleaned, and so
// does a finished one whose seat waits dirty for its RESET.
func legacyCleaned(reg *wod.Registration) bool {
	return reg.State == wod.StateDone || reg.State == wod.StateFailed
}

// legacyDriver says what serves a location, for the refusals' reasons.
func (s *Server) legacyDriver(ctx context.Context, location string) string {
	if l, err := s.Locations.FindLocation(ctx, location); err == nil && l.Legacy() {
		return "an original backend serves (kind legacy)"
	}
	return "a wod agent drives"
}
