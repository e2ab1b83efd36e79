package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wod-dev/wod"
)

// The outbox pages show mails as stored: a credentials mail holds a
// placeholder where the password goes, filled in only when it is sent. A
// mail's HTML is shown as escaped source only; rendered in our pages it
// would run with the operator's session.

func (p *Pages) registerAdminMails(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/mails", p.admin(wod.RoleModerator, p.adminMails))
	mux.HandleFunc("GET /admin/mails/{id}", p.admin(wod.RoleModerator, p.adminMail))
}

var (
	mailStates = []wod.MailState{wod.MailQueued, wod.MailSending, wod.MailSent, wod.MailFailed, wod.MailKept}
	mailKinds  = []wod.MailKind{wod.MailWelcome, wod.MailWaiting, wod.MailWaitExpired, wod.MailCredentials,
		wod.MailReminder, wod.MailExtended, wod.MailGoodbye, wod.MailApology, wod.MailAlert, wod.MailBadge}
)

type mailsData struct {
	State, Kind, Registration string
	States                    []wod.MailState
	Kinds                     []wod.MailKind
	Mails                     []*wod.Mail
	Pager                     pager
}

func (p *Pages) adminMails(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	q := r.URL.Query()
	d := &mailsData{States: mailStates, Kinds: mailKinds}
	f := wod.MailFilter{Page: listPage(q)}
	for _, s := range mailStates {
		if string(s) == q.Get("state") {
			d.State, f.State = string(s), &s
		}
	}
	for _, k := range mailKinds {
		if string(k) == q.Get("kind") {
			d.Kind, f.Kind = string(k), &k
		}
	}
	if id, ok := parseID(q.Get("registration")); ok {
		d.Registration, f.RegistrationID = strconv.FormatInt(id, 10), &id
	}
	ms, total, err := p.Mails.FindMails(r.Context(), f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Mails = ms
	d.Pager = newPager("/admin/mails", q, f.Page, len(ms), total)
	p.render(w, r, http.StatusOK, "admin/mails.html", p.adminView(w, r, a, "mails", "Mail outbox", d))
}

func (p *Pages) adminMail(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such mail.")
		return
	}
	m, err := p.findMail(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "admin/mail.html", p.adminView(w, r, a, "mails", fmt.Sprintf("Mail %d", m.ID), m))
}

// findMail looks a mail up by id.
func (p *Pages) findMail(ctx context.Context, id int64) (*wod.Mail, error) {
	ms, _, err := p.Mails.FindMails(ctx, wod.MailFilter{ID: &id, Page: wod.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, wod.Errorf(wod.ENOTFOUND, "There is no mail %d in the outbox.", id)
	}
	return ms[0], nil
}
