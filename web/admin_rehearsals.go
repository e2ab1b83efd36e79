package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

func (p *Pages) registerAdminRehearsals(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/workshops/{slug}/rehearsals/{id}", p.admin(operator.RehearseRole, p.rehearsalReport))
	mux.HandleFunc("POST /admin/workshops/{slug}/rehearse", p.admin(operator.RehearseRole, p.startRehearsal))
}

// rehearsalRow is a rehearsal as a workshop row or the dashboard shows it:
// with its first failing notebook and cell worked out.
type rehearsalRow struct {
	*wod.Rehearsal
	FailNotebook string
	FailCell     *wod.CellRun
	FailError    string // the notebook's own error, when it could not run
}

func newRehearsalRow(h *wod.Rehearsal) *rehearsalRow {
	if h == nil {
		return nil
	}
	row := &rehearsalRow{Rehearsal: h}
	if nb, c := h.FirstFailure(); nb != nil {
		row.FailNotebook, row.FailCell = nb.Path, c
		if c == nil {
			row.FailError = nb.Error
		}
	}
	return row
}

// lastRehearsals returns each workshop's last rehearsal as a row, by slug.
func (p *Pages) lastRehearsals(r *http.Request) map[string]*rehearsalRow {
	last, err := p.Operator.LastRehearsals(r.Context())
	if err != nil {
		p.Logger.WarnContext(r.Context(), "last rehearsals", "error", err)
		return nil
	}
	out := make(map[string]*rehearsalRow, len(last))
	for slug, h := range last {
		out[slug] = newRehearsalRow(h)
	}
	return out
}

type rehearsalData struct {
	*rehearsalRow
	CanRehearse bool
}

func (p *Pages) rehearsalReport(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such rehearsal.")
		return
	}
	h, err := p.Operator.Rehearsal(r.Context(), r.PathValue("slug"), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := &rehearsalData{rehearsalRow: newRehearsalRow(h), CanRehearse: true}
	p.render(w, r, http.StatusOK, "admin/rehearsal.html",
		p.adminView(w, r, a, "workshops", fmt.Sprintf("Rehearsal %d of %s", h.ID, h.Workshop), d))
}

func (p *Pages) startRehearsal(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	slug := r.PathValue("slug")
	back := "/admin/workshops#workshop-" + url.PathEscape(slug)
	h, err := p.Operator.StartRehearsal(r.Context(), a.Caller, slug)
	if wod.ErrorCode(err) == wod.EUNAVAILABLE {
		p.done(w, r, back, "Not done: "+wod.ErrorMessage(err))
		return
	}
	if err != nil {
		p.actionFailed(w, r, back, err)
		return
	}
	p.done(w, r, fmt.Sprintf("/admin/workshops/%s/rehearsals/%d", url.PathEscape(slug), h.ID),
		fmt.Sprintf("Rehearsal %d of %s started; this page shows its progress when reloaded.", h.ID, slug))
}
