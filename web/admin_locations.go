package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wod-dev/wod"
)

// addLocation adds a location from the dashboard's form (admins), as
// POST /api/v1/locations and `wod location add` do: on a bare control
// plane, the content waiting for a location is imported at once.
func (p *Pages) addLocation(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	l := &wod.Location{Name: strings.TrimSpace(r.PostFormValue("name")), HubURL: strings.TrimSpace(r.PostFormValue("hub_url"))}
	var err error
	if l.Students, err = strconv.Atoi(strings.TrimSpace(r.PostFormValue("students"))); err != nil {
		p.actionFailed(w, r, "/admin", wod.Errorf(wod.EINVALID, "students: give a number of seats"))
		return
	}
	if b := strings.TrimSpace(r.PostFormValue("base_student_id")); b != "" {
		if l.BaseStudentID, err = strconv.Atoi(b); err != nil {
			p.actionFailed(w, r, "/admin", wod.Errorf(wod.EINVALID, "base student id: give a number"))
			return
		}
	}
	l.Kind = wod.LocationKind(strings.TrimSpace(r.PostFormValue("kind")))
	l.BackendEmail = strings.TrimSpace(r.PostFormValue("backend_email"))
	l.BackendSMTP = strings.TrimSpace(r.PostFormValue("backend_smtp"))
	if err := p.Operator.CreateLocation(r.Context(), a.Caller, l); err != nil {
		p.actionFailed(w, r, "/admin", err)
		return
	}
	added := "Location " + l.Name + " added with " + strconv.Itoa(l.Students) + " seats."
	if l.Legacy() {
		p.done(w, r, "/admin", added+" Its command mails go to "+l.BackendEmail+".")
		return
	}
	p.done(w, r, "/admin", added+" Its agent's token: wod location agent-token "+l.Name+
		" (or POST /api/v1/locations/"+l.Name+"/agent-token).")
}
