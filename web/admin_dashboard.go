package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// registerDashboard adds the operators' overview and the completion
// statistics; moderators see them too, as they only read.
func (p *Pages) registerDashboard(mux *http.ServeMux) {
	dashboard := p.admin(wod.RoleModerator, p.dashboard)
	mux.HandleFunc("GET /admin", dashboard)
	mux.HandleFunc("GET /admin/{$}", dashboard)
	mux.HandleFunc("POST /admin/locations", p.admin(wod.RoleAdmin, p.addLocation))
	mux.HandleFunc("GET /admin/stats", p.admin(wod.RoleModerator, p.stats))
	mux.HandleFunc("GET /admin/stats.csv", p.admin(wod.RoleModerator, p.statsCSV))
	mux.HandleFunc("POST /admin/jobs/{id}/dismiss", p.admin(wod.RoleModerator, p.dismissJob))
	mux.HandleFunc("POST /admin/jobs/dismiss", p.admin(wod.RoleModerator, p.dismissFailedJobs))
	mux.HandleFunc("POST /admin/jobs/{id}/retry", p.admin(wod.RoleModerator, p.retryJob))
}

// retryJob queues a failed job again, once its cause is fixed.
func (p *Pages) retryJob(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such job.")
		return
	}
	j, err := p.Operator.RetryJob(r.Context(), a.Caller, id)
	if err != nil {
		p.actionFailed(w, r, "/admin", err)
		return
	}
	p.done(w, r, "/admin#jobs-h", fmt.Sprintf("Job %d (%s) is queued again.", id, j.Kind))
}

// dismissJob marks a failed job as dealt with: it leaves the dashboard,
// keeping its state and error in the job listings.
func (p *Pages) dismissJob(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		p.notFound(w, r, "There is no such job.")
		return
	}
	if _, err := p.Operator.DismissJob(r.Context(), a.Caller, id); err != nil {
		p.actionFailed(w, r, "/admin", err)
		return
	}
	p.done(w, r, "/admin#jobs-h", fmt.Sprintf("Job %d dismissed.", id))
}

// dismissFailedJobs dismisses every failed job the dashboard lists.
func (p *Pages) dismissFailedJobs(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	n, err := p.Operator.DismissFailedJobs(r.Context(), a.Caller)
	if err != nil {
		p.actionFailed(w, r, "/admin", err)
		return
	}
	p.done(w, r, "/admin#jobs-h", fmt.Sprintf("%d failed jobs dismissed.", n))
}

type dashboardData struct {
	CSRF             string
	States           []stateTile
	Workshops        []seatRow
	Locations        []locationRow
	FailingJobs      []jobRow
	FailingJobsTotal int
	GuardEvents      []*wod.Event
	// FailedRehearsals are the workshops whose last rehearsal failed.
	FailedRehearsals []*rehearsalRow
	// Checks are the last run of the daily checks, per scope.
	Checks []checkScope
	// CanAddLocation: an admin sees the form that adds a location.
	CanAddLocation bool
	// ContentWaits: the server's content waits for a first location,
	// and ContentWaitError is why its last import failed, if it did.
	ContentWaits     bool
	ContentWaitError string
}

// checkScope is the last run of the daily checks of the platform or of a
// location: when it ran, and what did not pass, since when.
type checkScope struct {
	Name      string // "platform (server)" or the location's name
	CheckedAt time.Time
	Failed    int
	Problems  []*wod.HostCheck // failures first, then warnings
	Passed    int
}

// checkScopes groups the verdicts by scope, the platform first.
func checkScopes(cs []*wod.HostCheck) []checkScope {
	var out []checkScope
	for _, c := range cs {
		if len(out) == 0 || out[len(out)-1].Name != c.Scope {
			out = append(out, checkScope{Name: c.Scope})
		}
		s := &out[len(out)-1]
		if c.CheckedAt.After(s.CheckedAt) {
			s.CheckedAt = c.CheckedAt
		}
		switch c.Status {
		case wod.CheckFail:
			s.Failed++
			s.Problems = append(s.Problems, c)
		case wod.CheckWarn:
			s.Problems = append(s.Problems, c)
		default:
			s.Passed++
		}
	}
	for i := range out {
		slices.SortStableFunc(out[i].Problems, func(a, b *wod.HostCheck) int {
			return boolRank(a.Status != wod.CheckFail) - boolRank(b.Status != wod.CheckFail)
		})
		if name, ok := strings.CutPrefix(out[i].Name, "location:"); ok {
			out[i].Name = name
		} else {
			out[i].Name = "platform (server)"
		}
	}
	slices.SortStableFunc(out, func(a, b checkScope) int {
		return boolRank(a.Name != "platform (server)") - boolRank(b.Name != "platform (server)")
	})
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

type stateTile struct {
	State wod.RegistrationState
	Count int
	// Recent marks the finished states, counted over the last 24 hours.
	Recent bool
}

type seatRow struct {
	wod.WorkshopLoad
	Bar seatBar
}

// seatBar is the geometry of a workshop's seat bar, in percent of its
// width: SVG attributes, since the pages allow no inline style.
type seatBar struct {
	TakenW, DirtyX, DirtyW, FreeX, FreeW string
	Label                                string
}

type locationRow struct {
	*wod.Location
	// Stale: no heartbeat yet, or none for the server's --agent-stale
	// (then the location gets no new participants: Silent).
	Stale, Silent bool
	StaleAfter    string
	// KernelsKnown: the agent reported the hub's kernels (KernelList).
	KernelsKnown bool
	KernelList   string
}

type jobRow struct {
	*wod.Job
	Location string
}

func (p *Pages) dashboard(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	d, err := p.Stats.Dashboard(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := p.Clock.Now()
	data := dashboardData{CSRF: a.CSRF, FailingJobsTotal: d.FailingJobsTotal, GuardEvents: d.GuardEvents}
	data.CanAddLocation = a.Caller.Role.Allows(wod.RoleAdmin)
	if p.Operator != nil {
		data.ContentWaits, data.ContentWaitError = p.Operator.ContentWait.Waiting()
	}
	for _, s := range []wod.RegistrationState{wod.StateWaiting, wod.StatePending, wod.StateReady, wod.StateExpiring,
		wod.StateEnding, wod.StateDone, wod.StateFailed, wod.StateLeft} {
		data.States = append(data.States, stateTile{State: s, Count: d.ByState[s], Recent: !s.Live() && s != wod.StateEnding})
	}
	for _, l := range d.Workshops {
		data.Workshops = append(data.Workshops, seatRow{WorkshopLoad: l, Bar: newSeatBar(l)})
	}
	names := map[int64]string{}
	for _, l := range d.Locations {
		names[l.ID] = l.Name
		staleAfter := p.AgentStale
		if staleAfter <= 0 {
			staleAfter = wod.DefaultAgentStale
		}
		l.SetAgentState(now, staleAfter)
		data.Locations = append(data.Locations, locationRow{Location: l, Stale: l.AgentState != wod.AgentAlive,
			Silent: l.AgentState == wod.AgentSilent, StaleAfter: staleText(staleAfter),
			KernelsKnown: l.Kernels != nil, KernelList: strings.Join(l.Kernels, ", ")})
	}
	for _, j := range d.FailingJobs {
		row := jobRow{Job: j}
		if j.LocationID != nil {
			row.Location = names[*j.LocationID]
		}
		data.FailingJobs = append(data.FailingJobs, row)
	}
	for _, h := range p.lastRehearsals(r) {
		if h.State == wod.RehearsalFailed {
			data.FailedRehearsals = append(data.FailedRehearsals, h)
		}
	}
	slices.SortFunc(data.FailedRehearsals, func(a, b *rehearsalRow) int { return strings.Compare(a.Workshop, b.Workshop) })
	if p.Checks != nil {
		cs, err := p.Checks.FindHostChecks(r.Context())
		if err != nil {
			p.fail(w, r, err)
			return
		}
		data.Checks = checkScopes(cs)
	}
	p.render(w, r, http.StatusOK, "admin/dashboard.html", p.adminView(w, r, a, "dashboard", "Dashboard", data))
}

func newSeatBar(l wod.WorkshopLoad) seatBar {
	total := max(l.Capacity, l.Taken+l.Dirty+l.Free, 1)
	share := func(n int) float64 { return float64(n) * 100 / float64(total) }
	taken, dirty, free := share(l.Taken), share(l.Dirty), share(l.Free)
	return seatBar{
		TakenW: svgNumber(taken),
		DirtyX: svgNumber(taken), DirtyW: svgNumber(dirty),
		FreeX: svgNumber(taken + dirty), FreeW: svgNumber(free),
		Label: strconv.Itoa(l.Taken) + " taken, " + strconv.Itoa(l.Dirty) + " dirty, " + strconv.Itoa(l.Free) +
			" free of a capacity of " + strconv.Itoa(l.Capacity),
	}
}

// svgNumber writes a coordinate briefly: a tenth is finer than a pixel.
func svgNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// staleText says how long an agent may be silent, as people say it.
func staleText(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
