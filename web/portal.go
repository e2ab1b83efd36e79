package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/wod-dev/wod"
)

func (p *Pages) registerPortal(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.catalogue)
	mux.HandleFunc("GET /workshops/{slug}", p.workshop)
	mux.HandleFunc("POST /workshops/{slug}/register", p.register)
	mux.HandleFunc("GET /registered/{token}", p.registered)
}

type catalogueData struct {
	Category   string
	Categories []string
	Popular    []card
	Latest     []card
	All        []card
}

// card is a workshop of the catalogue as its card shows it.
type card struct {
	*wod.Workshop
	// NotYetOpen: the card says when it opens instead of offering to book.
	NotYetOpen bool
}

// activeWorkshops lists the catalogue: every active workshop not past its
// closing time, ordered by priority then slug (one yet to open is listed,
// with when it opens).
func (p *Pages) activeWorkshops(r *http.Request) ([]*wod.Workshop, error) {
	active, now := true, p.Clock.Now()
	ws, _, err := p.Workshops.FindWorkshops(r.Context(), wod.WorkshopFilter{Active: &active, OfferedAt: &now,
		Page: wod.Page{Limit: 1000}})
	return ws, err
}

func (p *Pages) catalogue(w http.ResponseWriter, r *http.Request) {
	ws, err := p.activeWorkshops(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := catalogueData{Category: r.URL.Query().Get("category")}
	now := p.Clock.Now()
	cardOf := func(x *wod.Workshop) card { return card{Workshop: x, NotYetOpen: x.Upcoming(now)} }
	seen := map[string]bool{}
	for _, x := range ws {
		for _, c := range x.Categories {
			if !seen[c] {
				seen[c] = true
				d.Categories = append(d.Categories, c)
			}
		}
	}
	slices.SortFunc(d.Categories, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, x := range ws {
		if d.Category == "" || slices.Contains(x.Categories, d.Category) {
			d.All = append(d.All, cardOf(x))
		}
	}
	if d.Category == "" && len(ws) > 3 {
		for _, x := range ws {
			if x.Popular && len(d.Popular) < 3 {
				d.Popular = append(d.Popular, cardOf(x))
			}
		}
		latest := slices.Clone(ws)
		slices.SortStableFunc(latest, func(a, b *wod.Workshop) int { return b.CreatedAt.Compare(a.CreatedAt) })
		for _, x := range latest[:min(3, len(latest))] {
			d.Latest = append(d.Latest, cardOf(x))
		}
	}
	p.render(w, r, http.StatusOK, "portal/catalogue.html", p.view(r.Context(), "Workshops", d))
}

// regForm is the registration form with what the participant typed and
// what was wrong with it.
type regForm struct {
	Name, Email, Company string
	Errors               map[string]string
	// Problem explains a refusal that is not about one field.
	Problem string
	// Code is the refusal's code (already_registered, full, rate_limited).
	Code string
	// Resend offers to send the status link again (already registered).
	Resend bool
}

type workshopData struct {
	W    *wod.Workshop
	Form regForm
}

func (p *Pages) findActive(w http.ResponseWriter, r *http.Request) (*wod.Workshop, bool) {
	ws, err := p.Workshops.FindWorkshop(r.Context(), r.PathValue("slug"))
	if err == nil && !ws.Active {
		err = wod.Errorf(wod.ENOTFOUND, "this workshop is not open for registration")
	}
	if err == nil && ws.Closed(p.Clock.Now()) {
		// A closed workshop is no longer offered; an old link says why.
		p.notFound(w, r, "Registration for this workshop closed on "+utc(ws.Closes)+".")
		return nil, false
	}
	if err != nil {
		if wod.ErrorCode(err) == wod.ENOTFOUND {
			p.notFound(w, r, "There is no such workshop in the catalogue. It may have been withdrawn.")
		} else {
			p.fail(w, r, err)
		}
		return nil, false
	}
	return ws, true
}

func (p *Pages) workshop(w http.ResponseWriter, r *http.Request) {
	ws, ok := p.findActive(w, r)
	if !ok {
		return
	}
	p.render(w, r, http.StatusOK, "portal/workshop.html", p.view(r.Context(), ws.Title, &workshopData{W: ws}))
}

// register books a seat from the form; any refusal shows the form again
// with what the participant typed and why.
func (p *Pages) register(w http.ResponseWriter, r *http.Request) {
	ws, ok := p.findActive(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.renderForm(w, r, ws, regForm{Problem: "The form could not be read; please try again."}, http.StatusBadRequest)
		return
	}
	f := regForm{Name: r.PostForm.Get("name"), Email: r.PostForm.Get("email"), Company: r.PostForm.Get("company")}
	if ok, wait := p.Gate.AllowRegistration(r.Context()); !ok {
		f.Code = wod.ERATELIMITED
		f.Problem = fmt.Sprintf("Too many registrations from your network just now. Please try again in %d seconds.",
			int(wait.Seconds())+1)
		w.Header().Set("Retry-After", itoa(int(wait.Seconds())+1))
		p.renderForm(w, r, ws, f, http.StatusTooManyRequests)
		return
	}
	reg, err := p.Registrar.Register(r.Context(), wod.RegistrationRequest{Workshop: ws.Slug, Name: f.Name,
		Email: f.Email, Company: f.Company, ClientIP: p.Gate.ClientAddress(r.Context()), Wait: r.PostForm.Get("wait") != ""})
	if err == nil {
		if reg.State == wod.StateWaiting {
			// Their place in line and the estimate live on the status page.
			http.Redirect(w, r, "/status/"+p.Keys.StatusToken(reg.ID), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/registered/"+p.Keys.StatusToken(reg.ID), http.StatusSeeOther)
		return
	}
	var e *wod.Error
	if !errors.As(err, &e) {
		p.fail(w, r, err)
		return
	}
	f.Code = e.Code
	status := http.StatusConflict
	switch e.Code {
	case wod.EALREADYREGISTERED:
		// Not when it ends: whoever types an address must not learn that.
		// The link, which shows it, goes only to the address itself.
		f.Problem = "This e-mail address is already registered for a workshop that is still running. " +
			"Use the link in the e-mail we sent you to reach it, or end it there to take another workshop."
		f.Resend = true
	case wod.EFULL:
		f.Problem = "Sorry, this workshop is full right now. Seats come back as sessions end: you can wait for one " +
			"(the next free seat is yours, with your credentials by e-mail), try again later, or pick another workshop."
	case wod.EINVALID:
		status = http.StatusUnprocessableEntity
		f.Errors = map[string]string{}
		for _, fe := range e.Fields {
			f.Errors[fe.Field] = fe.Message
		}
		if msg, ok := f.Errors["workshop"]; ok {
			f.Problem = "This workshop cannot take registrations: " + msg + "."
		}
	default:
		p.fail(w, r, err)
		return
	}
	p.renderForm(w, r, ws, f, status)
}

func (p *Pages) renderForm(w http.ResponseWriter, r *http.Request, ws *wod.Workshop, f regForm, status int) {
	title := ws.Title
	if f.Problem != "" || len(f.Errors) > 0 {
		title = "Please check your registration — " + ws.Title
	}
	p.render(w, r, status, "portal/workshop.html", p.view(r.Context(), title, &workshopData{W: ws, Form: f}))
}

type registeredData struct {
	Token, Name, Email string
	W                  *wod.Workshop
}

// registered confirms a booking and leads to the status page.
func (p *Pages) registered(w http.ResponseWriter, r *http.Request) {
	id, ok := p.Keys.ParseStatusToken(r.PathValue("token"))
	if !ok {
		p.notFound(w, r, "This link is not valid. Use the link in the e-mail we sent you.")
		return
	}
	reg, err := p.Registrations.FindRegistration(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	ws, err := p.Workshops.FindWorkshop(r.Context(), reg.Workshop)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	p.render(w, r, http.StatusOK, "portal/registered.html", p.view(r.Context(), "You are registered",
		&registeredData{Token: r.PathValue("token"), Name: reg.Name, Email: reg.Email, W: ws}))
}
