package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
)

// legacyWorkshop is a workshop as the original's GET /api/workshops
// answers it (reference §2.3). Its id is wod's workshop id; capacity is
// the seats free now (the original kept a counter of them).
type legacyWorkshop struct {
	ID                int64     `json:"id"`
	Name              string    `json:"name"`
	Notebook          string    `json:"notebook"`
	Description       string    `json:"description"`
	Active            bool      `json:"active"`
	Capacity          int       `json:"capacity"`
	Priority          int       `json:"priority"`
	Range             [2]int    `json:"range"`
	Reset             bool      `json:"reset"`
	LDAP              bool      `json:"ldap"`
	SessionID         *int      `json:"sessionId"`
	SessionType       string    `json:"sessionType"`
	Location          string    `json:"location"`
	Avatar            string    `json:"avatar"`
	Role              string    `json:"role"`
	Presenter         string    `json:"presenter"`
	PreRequisite      string    `json:"preRequisite"`
	ReplayLink        string    `json:"replayLink"`
	Compile           *string   `json:"compile"`
	VarPass           bool      `json:"varpass"`
	ReplayID          int       `json:"replayId"`
	WorkshopImg       string    `json:"workshopImg"`
	BadgeImg          string    `json:"badgeImg"`
	MonoAppliance     bool      `json:"monoappliance"`
	MultiAppliance    bool      `json:"multiappliance"`
	Beta              bool      `json:"beta"`
	Category          []string  `json:"category"`
	AlternateLocation []string  `json:"alternateLocation"`
	Duration          int       `json:"duration"` // hours
	Popular           bool      `json:"popular"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// The original's session types, which its frontend filters by.
const (
	legacySessionWorkshop  = "Workshops-on-Demand"
	legacySessionChallenge = "Coding Challenge"
)

func legacySessionType(t wod.SessionType) string {
	if t == wod.SessionChallenge {
		return legacySessionChallenge
	}
	return legacySessionWorkshop
}

// legacyHours is a duration in whole hours, rounded up, as the original
// counts them.
func legacyHours(d wod.Duration) int {
	return int((time.Duration(d) + time.Hour - 1) / time.Hour)
}

func toLegacyWorkshop(w *wod.Workshop) legacyWorkshop {
	lw := legacyWorkshop{ID: w.ID, Name: w.Title, Notebook: w.Slug, Description: w.Description, Active: w.Active,
		Capacity: w.SeatsFree, Priority: w.Priority, Range: [2]int{w.SeatMin, w.SeatMax}, Reset: w.Reset, LDAP: w.LDAP,
		SessionType: legacySessionType(w.SessionType), Location: w.Location, Avatar: w.Avatar, Role: w.PresenterRole,
		Presenter: w.Presenter, PreRequisite: w.Prerequisite, ReplayLink: w.ReplayLink, VarPass: w.VarPass,
		ReplayID: w.ReplayID, WorkshopImg: w.Image, BadgeImg: w.BadgeImage,
		MonoAppliance: w.Appliance == wod.ApplianceMono, MultiAppliance: w.Appliance == wod.ApplianceMulti,
		Beta: w.Beta, Category: w.Categories, AlternateLocation: []string{}, Duration: legacyHours(w.Duration),
		Popular: w.Popular, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if lw.Category == nil {
		lw.Category = []string{}
	}
	if len(w.Compile) > 0 {
		c := strings.Join(w.Compile, ",")
		lw.Compile = &c
	}
	// Locations[0] is Location; a location with its own seat range is
	// named with ":MIN-MAX", which the original's FQDNs never have.
	for i, l := range w.Locations {
		if i > 0 {
			name, _, _ := strings.Cut(l, ":")
			lw.AlternateLocation = append(lw.AlternateLocation, name)
		}
	}
	return lw
}

// legacyCatalogue lists the workshops the caller may see, by priority:
// operators every one, others the active ones (as wod's own catalogue).
func (s *Server) legacyCatalogue(ctx context.Context, p *legacyPrincipal, active *bool) ([]*wod.Workshop, error) {
	if !p.moderator() {
		if active != nil && !*active {
			return nil, nil
		}
		yes := true
		active = &yes
	}
	var offered *time.Time
	if !p.moderator() {
		now := s.Clock.Now()
		offered = &now // a closed workshop is not offered (wod/dates.go)
	}
	var all []*wod.Workshop
	for page := 0; ; page++ {
		ws, n, err := s.Workshops.FindWorkshops(ctx, wod.WorkshopFilter{Active: active, OfferedAt: offered,
			Page: wod.Page{Limit: 1000, Offset: page * 1000}})
		if err != nil {
			return nil, err
		}
		all = append(all, ws...)
		if len(ws) == 0 || len(all) >= n {
			return all, nil
		}
	}
}

// legacyListWorkshops is GET /api/workshops[?active=true|false].
func (s *Server) legacyListWorkshops(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	var active *bool
	switch v := r.URL.Query().Get("active"); v {
	case "":
	case "true", "false":
		b := v == "true"
		active = &b
	default:
		return legacyStatus{http.StatusBadRequest, "active must be true or false"}
	}
	ws, err := s.legacyCatalogue(r.Context(), p, active)
	if err != nil {
		return err
	}
	out := make([]legacyWorkshop, 0, len(ws))
	for _, wk := range ws {
		out = append(out, toLegacyWorkshop(wk))
	}
	writeLegacyJSON(w, http.StatusOK, out)
	return nil
}

// legacyWorkshopByID finds a workshop the caller may see by its id.
func (s *Server) legacyWorkshopByID(ctx context.Context, p *legacyPrincipal, id int64) (*wod.Workshop, error) {
	ws, err := s.legacyCatalogue(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	for _, wk := range ws {
		if wk.ID == id {
			return wk, nil
		}
	}
	return nil, notFound("Workshop Not Found")
}

// legacyGetWorkshop is GET /api/workshops/:id.
func (s *Server) legacyGetWorkshop(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
	id, err := legacyID(r)
	if err != nil {
		return err
	}
	wk, err := s.legacyWorkshopByID(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, toLegacyWorkshop(wk))
	return nil
}

type legacyBadge struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	BadgeImg    string `json:"badgeImg"`
}

// legacyBadges is GET /api/special-badges: wod's badge levels, with the
// original's ids (1 Apprentice … 5 Legend). The images are the original
// frontend's own (/img/… on its site), as the original seeded them.
func (s *Server) legacyBadges(w http.ResponseWriter, r *http.Request, _ *legacyPrincipal) error {
	out := make([]legacyBadge, 0, len(wod.Badges))
	for _, b := range wod.Badges {
		out = append(out, legacyBadge{ID: b.Level, Name: b.Name, Title: b.Name,
			Description: "Finished " + strconv.Itoa(b.Workshops) + " workshops", BadgeImg: "/img/" + b.Image})
	}
	writeLegacyJSON(w, http.StatusOK, out)
	return nil
}

type legacyLocation struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	BaseStdID int    `json:"basestdid"`
	Proto     string `json:"proto"`
	Port      string `json:"port"`
}

// legacyLocations is GET /api/locations: what participants see of a
// location anyway (its hub's address) and its student id base.
func (s *Server) legacyLocations(w http.ResponseWriter, r *http.Request, _ *legacyPrincipal) error {
	ls, err := s.Locations.FindLocations(r.Context())
	if err != nil {
		return err
	}
	out := make([]legacyLocation, 0, len(ls))
	for _, l := range ls {
		ll := legacyLocation{ID: l.ID, Name: l.Name, BaseStdID: l.BaseStudentID}
		if u, err := url.Parse(l.HubURL); err == nil && u.Host != "" {
			ll.Proto, ll.Port = u.Scheme, u.Port()
			if ll.Port == "" {
				ll.Port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
			}
		}
		out = append(out, ll)
	}
	writeLegacyJSON(w, http.StatusOK, out)
	return nil
}
