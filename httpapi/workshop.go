package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// WorkshopSettable holds the settable fields of a workshop; absent fields are
// left alone.
type WorkshopSettable struct {
	Title         *string       `json:"title,omitempty" maxLength:"200"`
	Description   *string       `json:"description,omitempty" maxLength:"20000"`
	Categories    *[]string     `json:"categories,omitempty" maxItems:"20"`
	Duration      *string       `json:"duration,omitempty" doc:"A number of hours (\"4\") or a duration such as \"2h30m\" or \"90s\"" example:"2h"`
	Capacity      *int          `json:"capacity,omitempty" minimum:"0" doc:"Most seats held at once"`
	SeatMin       *int          `json:"seat_min,omitempty" minimum:"1" doc:"First local student number of the seat range"`
	SeatMax       *int          `json:"seat_max,omitempty" minimum:"1" doc:"Last local student number of the seat range"`
	Location      *string       `json:"location,omitempty" doc:"Location name (default: the only location); alone, it makes it the workshop's only location"`
	Locations     *[]string     `json:"locations,omitempty" minItems:"1" maxItems:"50" doc:"Every location the workshop is offered at, the first one first (it becomes location), as name or, with the location's own seat range for the workshop, name:MIN-MAX (hub2:21-40); replaces the list. Placement picks, per registration, one whose agent is alive, with the most free seats; capacity bounds the participants across all of them"`
	Active        *bool         `json:"active,omitempty" doc:"Shown in the catalogue and open for registration"`
	Beta          *bool         `json:"beta,omitempty"`
	Priority      *int          `json:"priority,omitempty" doc:"Catalogue order, ascending"`
	Reset         *bool         `json:"reset,omitempty" doc:"Keep seats dirty after cleanup until a reset job has run"`
	LDAP          *bool         `json:"ldap,omitempty"`
	VarPass       *bool         `json:"varpass,omitempty"`
	Compile       *[]string     `json:"compile,omitempty" doc:"Scripts to compile at deployment"`
	Appliance     *string       `json:"appliance,omitempty" enum:"none,mono,multi"`
	SessionType   *string       `json:"session_type,omitempty" enum:"workshop,challenge"`
	Presenter     *string       `json:"presenter,omitempty"`
	PresenterRole *string       `json:"presenter_role,omitempty"`
	Avatar        *string       `json:"avatar,omitempty"`
	Image         *string       `json:"image,omitempty"`
	BadgeImage    *string       `json:"badge_image,omitempty"`
	ReplayID      *int          `json:"replay_id,omitempty"`
	ReplayLink    *string       `json:"replay_link,omitempty"`
	Prerequisite  *string       `json:"prerequisite,omitempty"`
	Limits        *wod.Limits   `json:"limits,omitempty" doc:"What each student may use; replaces all four (an absent or 0 one is the agent's default)"`
	Extend        *string       `json:"extend,omitempty" doc:"Time a participant may add to their session once, while nobody waits for a seat: a duration such as \"30m\" or a number of hours; \"0\": none" example:"30m"`
	Warm          *wod.WarmPool `json:"warm,omitempty" doc:"Seats kept prepared (server running) before anyone registers: a number, or \"auto\" (sized from the last hour's arrivals); 0: none"`
	Opens         *string       `json:"opens,omitempty" doc:"When the workshop opens for registration, RFC 3339 with the zone; before it, registrations (and the waiting line) are refused. \"\": no opening time" example:"2026-12-10T09:00:00Z"`
	Closes        *string       `json:"closes,omitempty" doc:"When the workshop closes for registration, RFC 3339 with the zone: from then on registrations are refused, the workshop leaves the catalogue and whoever still waits for a seat leaves the line (wait-expired mail). Running sessions are not cut. \"\": no closing time" example:"2026-12-10T18:00:00Z"`
}

// warmSchema describes wod.WarmPool in the OpenAPI document: a number of
// seats or the string "auto".
type warmSchema struct{}

// Schema implements huma.SchemaProvider.
func (warmSchema) Schema(huma.Registry) *huma.Schema {
	lo, hi := 0.0, float64(wod.MaxWarm)
	return &huma.Schema{
		Description: "A number of warm seats, or \"auto\" to size the pool from the arrivals of the last hour",
		OneOf: []*huma.Schema{
			{Type: huma.TypeInteger, Minimum: &lo, Maximum: &hi},
			{Type: huma.TypeString, Enum: []any{"auto"}},
		},
	}
}

// change turns the fields into the operator's change; the operator
// service resolves the location.
func (f *WorkshopSettable) change() (operator.WorkshopChange, error) {
	u := wod.WorkshopUpdate{Title: f.Title, Description: f.Description, Categories: f.Categories,
		Capacity: f.Capacity, SeatMin: f.SeatMin, SeatMax: f.SeatMax, Active: f.Active, Beta: f.Beta,
		Priority: f.Priority, Reset: f.Reset, LDAP: f.LDAP, VarPass: f.VarPass, Compile: f.Compile,
		Presenter: f.Presenter, PresenterRole: f.PresenterRole, Avatar: f.Avatar, Image: f.Image,
		BadgeImage: f.BadgeImage, ReplayID: f.ReplayID, ReplayLink: f.ReplayLink, Prerequisite: f.Prerequisite,
		Limits: f.Limits, Warm: f.Warm}
	c := operator.WorkshopChange{Location: f.Location, Locations: f.Locations}
	if f.Duration != nil {
		d, err := wod.ParseDuration(*f.Duration)
		if err != nil {
			return c, invalid("duration", "%v", err)
		}
		u.Duration = &d
	}
	if f.Extend != nil {
		d, err := wod.ParseDuration(*f.Extend)
		if err != nil {
			return c, invalid("extend", "%v", err)
		}
		u.Extend = &d
	}
	for _, d := range []struct {
		field string
		in    *string
		out   **time.Time
	}{{"opens", f.Opens, &u.Opens}, {"closes", f.Closes, &u.Closes}} {
		if d.in == nil {
			continue
		}
		t, err := wod.ParseWorkshopDate(*d.in)
		if err != nil {
			return c, invalid(d.field, "%v", err)
		}
		*d.out = &t
	}
	if f.Appliance != nil {
		a := wod.ApplianceMode(*f.Appliance)
		u.Appliance = &a
	}
	if f.SessionType != nil {
		t := wod.SessionType(*f.SessionType)
		u.SessionType = &t
	}
	c.WorkshopUpdate = u
	return c, nil
}

type workshopCreate struct {
	Slug string `json:"slug" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$" doc:"Content folder name, e.g. WKSHP-API101"`
	WorkshopSettable
}

type workshopPatch struct {
	WorkshopSettable
	ClearOverrides bool `json:"clear_overrides,omitempty" doc:"Forget which fields operators changed, so the next content import sets them again"`
}

// SlugParam is a workshop slug in the path.
type SlugParam struct {
	Slug string `path:"slug" maxLength:"100"`
}

type listWorkshopsInput struct {
	All      bool   `query:"all" doc:"Include inactive workshops (operators only)"`
	Category string `query:"category" doc:"Only workshops in this category (case-insensitive)"`
	Paging
}

type createWorkshopInput struct{ Body workshopCreate }

type updateWorkshopInput struct {
	SlugParam
	Body workshopPatch
}

func (s *Server) registerWorkshops() {
	tags := []string{"Workshops"}
	register(s, huma.Operation{OperationID: "list-workshops", Method: http.MethodGet, Path: APIPrefix + "/workshops",
		Summary: "List workshops", Tags: tags,
		Description: "The catalogue: active workshops by priority, each with its free seats (`seats_free`) and " +
			"whether it is among the most popular. A workshop past its closing time (`closes`) is not listed; one " +
			"yet to open (`opens`) is, and refuses registrations until then. Operators may ask for inactive and " +
			"closed ones too with `all=true`."},
		"", s.listWorkshops)
	register(s, huma.Operation{OperationID: "get-workshop", Method: http.MethodGet, Path: APIPrefix + "/workshops/{slug}",
		Summary: "Get a workshop", Tags: tags, Description: "An inactive workshop is visible to operators only."},
		"", s.getWorkshop)
	register(s, huma.Operation{OperationID: "create-workshop", Method: http.MethodPost, Path: APIPrefix + "/workshops",
		Summary: "Create a workshop", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Usually workshops come from content (`wod workshop import`); this creates one by hand."},
		operator.CatalogueChangeRole, s.createWorkshop)
	register(s, huma.Operation{OperationID: "update-workshop", Method: http.MethodPatch, Path: APIPrefix + "/workshops/{slug}",
		Summary: "Change a workshop", Tags: tags,
		Description: "Sets the given fields and records them as operator overrides: a later content import " +
			"leaves them alone (see `overrides`). `locations` replaces the list of locations the workshop is " +
			"offered at (the first becomes `location`); content imports never change it. Each registration is " +
			"placed at one of them whose agent is alive (see the locations' `agent_state`), the one with the " +
			"most free seats first; `capacity` bounds the participants across all of them."},
		operator.WorkshopEditRole, s.updateWorkshop)
	register(s, huma.Operation{OperationID: "delete-workshop", Method: http.MethodDelete, Path: APIPrefix + "/workshops/{slug}",
		Summary: "Delete a workshop", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Only a workshop nobody ever registered for; deactivate the others."},
		operator.CatalogueChangeRole, s.deleteWorkshop)
	register(s, huma.Operation{OperationID: "import-workshops", Method: http.MethodPost, Path: APIPrefix + "/workshops/import",
		Summary: "Import content", Tags: tags,
		Description: "Re-reads the server's content directories (`--content`) and creates or updates their " +
			"workshops, all or nothing. Fields changed by operators are kept."},
		operator.CatalogueChangeRole, s.importWorkshops)
}

func (s *Server) listWorkshops(ctx context.Context, in *listWorkshopsInput) (*list[*wod.Workshop], error) {
	f := wod.WorkshopFilter{Page: in.page()}
	if !in.All {
		yes, now := true, s.Clock.Now()
		f.Active, f.OfferedAt = &yes, &now
	} else if CallerFrom(ctx).Anonymous() {
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "all=true is for operators; authenticate first")
	}
	if in.Category != "" {
		f.Category = &in.Category
	}
	ws, n, err := s.Workshops.FindWorkshops(ctx, f)
	if err != nil {
		return nil, err
	}
	return newList(ws, n), nil
}

func (s *Server) getWorkshop(ctx context.Context, in *SlugParam) (*body[*wod.Workshop], error) {
	w, err := s.Workshops.FindWorkshop(ctx, in.Slug)
	if err != nil {
		return nil, err
	}
	if !w.Active && CallerFrom(ctx).Anonymous() {
		return nil, notFound("workshop %s not found", in.Slug)
	}
	return &body[*wod.Workshop]{w}, nil
}

func (s *Server) createWorkshop(ctx context.Context, in *createWorkshopInput) (*body[*wod.Workshop], error) {
	c, err := in.Body.change()
	if err != nil {
		return nil, err
	}
	w, err := s.Operator.CreateWorkshop(ctx, CallerFrom(ctx), in.Body.Slug, c)
	if err != nil {
		return nil, err
	}
	return &body[*wod.Workshop]{w}, nil
}

func (s *Server) updateWorkshop(ctx context.Context, in *updateWorkshopInput) (*body[*wod.Workshop], error) {
	c, err := in.Body.change()
	if err != nil {
		return nil, err
	}
	c.ClearOverrides = in.Body.ClearOverrides
	w, err := s.Operator.UpdateWorkshop(ctx, CallerFrom(ctx), in.Slug, c)
	if err != nil {
		return nil, err
	}
	return &body[*wod.Workshop]{w}, nil
}

func (s *Server) deleteWorkshop(ctx context.Context, in *SlugParam) (*empty, error) {
	if err := s.Operator.DeleteWorkshop(ctx, CallerFrom(ctx), in.Slug); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (s *Server) importWorkshops(ctx context.Context, _ *struct{}) (*body[[]wod.ImportResult], error) {
	res, err := s.Operator.ReimportContent(ctx, CallerFrom(ctx))
	if err != nil {
		return nil, err
	}
	return &body[[]wod.ImportResult]{res}, nil
}
