package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
)

type locationCreate struct {
	Name          string `json:"name" pattern:"^[a-z0-9][a-z0-9.-]{0,62}$" doc:"e.g. the hub host's name"`
	HubURL        string `json:"hub_url,omitempty" doc:"The hub's public URL, as participants reach it"`
	BaseStudentID int    `json:"base_student_id,omitempty" minimum:"0"`
	Students      int    `json:"students" minimum:"1" maximum:"10000" doc:"Student accounts (seats): student1..studentN"`
	Kind          string `json:"kind,omitempty" enum:"agent,legacy" doc:"agent (default): a wod agent serves it; legacy: an original wod-backend, driven with command mails"`
	BackendEmail  string `json:"backend_email,omitempty" maxLength:"254" doc:"legacy: the backend's command mail address (WODUSER@backend)"`
	BackendSMTP   string `json:"backend_smtp,omitempty" maxLength:"260" doc:"legacy: the backend's Postfix, host[:port] (default: the address's domain, port 10025)"`
}

type locationPatch struct {
	HubURL        *string `json:"hub_url,omitempty"`
	BaseStudentID *int    `json:"base_student_id,omitempty" minimum:"0"`
	Students      *int    `json:"students,omitempty" minimum:"1" maximum:"10000"`
	Kind          *string `json:"kind,omitempty" enum:"agent,legacy"`
	BackendEmail  *string `json:"backend_email,omitempty" maxLength:"254"`
	BackendSMTP   *string `json:"backend_smtp,omitempty" maxLength:"260"`
}

// NameParam is a location name in the path.
type NameParam struct {
	Name string `path:"name" maxLength:"63"`
}

type createLocationInput struct{ Body locationCreate }

type updateLocationInput struct {
	NameParam
	Body locationPatch
}

// agentToken is a location's new agent token, shown once.
type agentToken struct {
	Body struct {
		Token string `json:"token"`
	}
}

func (s *Server) registerLocations() {
	tags := []string{"Locations"}
	register(s, huma.Operation{OperationID: "list-locations", Method: http.MethodGet, Path: APIPrefix + "/locations",
		Summary: "List locations", Tags: tags, Description: "JupyterHub hosts, with their agents' last heartbeat."},
		wod.RoleModerator, s.listLocations)
	register(s, huma.Operation{OperationID: "get-location", Method: http.MethodGet, Path: APIPrefix + "/locations/{name}",
		Summary: "Get a location", Tags: tags},
		wod.RoleModerator, s.getLocation)
	register(s, huma.Operation{OperationID: "create-location", Method: http.MethodPost, Path: APIPrefix + "/locations",
		Summary: "Add a location", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Adds a JupyterHub host with its seats, all free."},
		wod.RoleAdmin, s.createLocation)
	register(s, huma.Operation{OperationID: "update-location", Method: http.MethodPatch, Path: APIPrefix + "/locations/{name}",
		Summary: "Change a location", Tags: tags,
		Description: "Growing `students` adds free seats; shrinking is refused while a seat or a workshop's range is above the new count."},
		wod.RoleAdmin, s.updateLocation)
	register(s, huma.Operation{OperationID: "delete-location", Method: http.MethodDelete, Path: APIPrefix + "/locations/{name}",
		Summary: "Remove a location", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Only a location that no workshop uses and that has no history."},
		wod.RoleAdmin, s.deleteLocation)
}

func (s *Server) listLocations(ctx context.Context, _ *struct{}) (*body[[]*wod.Location], error) {
	ls, err := s.Locations.FindLocations(ctx)
	if ls == nil {
		ls = []*wod.Location{}
	}
	for _, l := range ls {
		s.agentState(l)
	}
	return &body[[]*wod.Location]{ls}, err
}

func (s *Server) getLocation(ctx context.Context, in *NameParam) (*body[*wod.Location], error) {
	l, err := s.Locations.FindLocation(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	s.agentState(l)
	return &body[*wod.Location]{l}, nil
}

func (s *Server) createLocation(ctx context.Context, in *createLocationInput) (*body[*wod.Location], error) {
	l := &wod.Location{Name: in.Body.Name, HubURL: in.Body.HubURL, BaseStudentID: in.Body.BaseStudentID,
		Students: in.Body.Students, Kind: wod.LocationKind(in.Body.Kind), BackendEmail: in.Body.BackendEmail,
		BackendSMTP: in.Body.BackendSMTP}
	if err := s.Operator.CreateLocation(ctx, CallerFrom(ctx), l); err != nil {
		return nil, err
	}
	return &body[*wod.Location]{l}, nil
}

func (s *Server) updateLocation(ctx context.Context, in *updateLocationInput) (*body[*wod.Location], error) {
	defer s.agentTokens.forget()
	l, err := s.Operator.UpdateLocation(ctx, CallerFrom(ctx), in.Name, wod.LocationUpdate{HubURL: in.Body.HubURL,
		BaseStudentID: in.Body.BaseStudentID, Students: in.Body.Students, Kind: (*wod.LocationKind)(in.Body.Kind),
		BackendEmail: in.Body.BackendEmail, BackendSMTP: in.Body.BackendSMTP})
	if err != nil {
		return nil, err
	}
	return &body[*wod.Location]{l}, nil
}

func (s *Server) deleteLocation(ctx context.Context, in *NameParam) (*empty, error) {
	defer s.agentTokens.forget()
	if err := s.Operator.DeleteLocation(ctx, CallerFrom(ctx), in.Name); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

// createAgentToken is registered with the agent protocol (registerAgents),
// which the token opens.
func (s *Server) createAgentToken(ctx context.Context, in *NameParam) (*agentToken, error) {
	defer s.agentTokens.forget()
	tok, err := s.Operator.IssueAgentToken(ctx, CallerFrom(ctx), in.Name)
	if err != nil {
		return nil, err
	}
	out := &agentToken{}
	out.Body.Token = tok
	return out, nil
}

// agentState derives whether the location's agent counts as alive.
func (s *Server) agentState(l *wod.Location) {
	stale := s.AgentStale
	if stale <= 0 {
		stale = wod.DefaultAgentStale
	}
	l.SetAgentState(s.Clock.Now(), stale)
}
