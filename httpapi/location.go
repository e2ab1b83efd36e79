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
}

type locationPatch struct {
	HubURL        *string `json:"hub_url,omitempty"`
	BaseStudentID *int    `json:"base_student_id,omitempty" minimum:"0"`
	Students      *int    `json:"students,omitempty" minimum:"1" maximum:"10000"`
}

// NameParam is a location name in the path.
type NameParam struct {
	Name string `path:"name" maxLength:"63"`
}

func (s *Server) registerLocations() {
	tags := []string{"Locations"}
	register(s, huma.Operation{OperationID: "list-locations", Method: http.MethodGet, Path: APIPrefix + "/locations",
		Summary: "List locations", Tags: tags, Description: "JupyterHub hosts, with their agents' last heartbeat."},
		wod.RoleModerator, func(ctx context.Context, _ *struct{}) (*body[[]*wod.Location], error) {
			ls, err := s.Locations.FindLocations(ctx)
			if ls == nil {
				ls = []*wod.Location{}
			}
			return &body[[]*wod.Location]{ls}, err
		})
	register(s, huma.Operation{OperationID: "get-location", Method: http.MethodGet, Path: APIPrefix + "/locations/{name}",
		Summary: "Get a location", Tags: tags},
		wod.RoleModerator, func(ctx context.Context, in *NameParam) (*body[*wod.Location], error) {
			l, err := s.Locations.FindLocation(ctx, in.Name)
			return &body[*wod.Location]{l}, err
		})
	register(s, huma.Operation{OperationID: "create-location", Method: http.MethodPost, Path: APIPrefix + "/locations",
		Summary: "Add a location", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Adds a JupyterHub host with its seats, all free."},
		wod.RoleAdmin, func(ctx context.Context, in *struct{ Body locationCreate }) (*body[*wod.Location], error) {
			l := &wod.Location{Name: in.Body.Name, HubURL: in.Body.HubURL, BaseStudentID: in.Body.BaseStudentID,
				Students: in.Body.Students}
			if err := s.Locations.CreateLocation(ctx, l); err != nil {
				return nil, err
			}
			s.audit(ctx, "location.create", "location:"+l.Name, "")
			return &body[*wod.Location]{l}, nil
		})
	register(s, huma.Operation{OperationID: "update-location", Method: http.MethodPatch, Path: APIPrefix + "/locations/{name}",
		Summary: "Change a location", Tags: tags,
		Description: "Growing `students` adds free seats; shrinking is refused while a seat or a workshop's range is above the new count."},
		wod.RoleAdmin, func(ctx context.Context, in *struct {
			NameParam
			Body locationPatch
		}) (*body[*wod.Location], error) {
			l, err := s.Locations.UpdateLocation(ctx, in.Name, wod.LocationUpdate{HubURL: in.Body.HubURL,
				BaseStudentID: in.Body.BaseStudentID, Students: in.Body.Students})
			if err != nil {
				return nil, err
			}
			s.audit(ctx, "location.update", "location:"+l.Name, "")
			return &body[*wod.Location]{l}, nil
		})
	register(s, huma.Operation{OperationID: "delete-location", Method: http.MethodDelete, Path: APIPrefix + "/locations/{name}",
		Summary: "Remove a location", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Only a location that no workshop uses and that has no history."},
		wod.RoleAdmin, func(ctx context.Context, in *NameParam) (*empty, error) {
			if err := s.Locations.DeleteLocation(ctx, in.Name); err != nil {
				return nil, err
			}
			s.audit(ctx, "location.delete", "location:"+in.Name, "")
			return &empty{}, nil
		})
}
