package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

type rehearsalInput struct {
	SlugParam
	ID int64 `path:"id"`
}

type listRehearsalsInput struct {
	SlugParam
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"How many, newest first"`
}

func (s *Server) registerRehearsals() {
	tags := []string{"Rehearsals"}
	register(s, huma.Operation{OperationID: "start-rehearsal", Method: http.MethodPost,
		Path: APIPrefix + "/workshops/{slug}/rehearsals", Summary: "Rehearse a workshop", Tags: tags,
		DefaultStatus: http.StatusAccepted,
		Description: "A robot participant takes a seat like a participant (never one a participant needs: " +
			"409 `full` when none can be spared), logs in to the hub, runs every notebook cell by cell, has the seat " +
			"cleaned up and checks the completion measured there. Answers at once with the running rehearsal; " +
			"follow it with `GET …/rehearsals/{id}`. 503 when the server has no hub executor."},
		operator.RehearseRole, s.startRehearsal)
	register(s, huma.Operation{OperationID: "list-rehearsals", Method: http.MethodGet,
		Path: APIPrefix + "/workshops/{slug}/rehearsals", Summary: "List a workshop's rehearsals", Tags: tags,
		Description: "Newest first, each with its notebooks and cells."},
		operator.RehearseRole, s.listRehearsals)
	register(s, huma.Operation{OperationID: "get-rehearsal", Method: http.MethodGet,
		Path: APIPrefix + "/workshops/{slug}/rehearsals/{id}", Summary: "Get a rehearsal", Tags: tags,
		Description: "The state (running, passed, failed), and per notebook and cell: status (ok, error, timeout, " +
			"skipped, answered-input), duration, error and the first lines of the output."},
		operator.RehearseRole, s.getRehearsal)
}

func (s *Server) startRehearsal(ctx context.Context, in *SlugParam) (*body[*wod.Rehearsal], error) {
	h, err := s.Operator.StartRehearsal(ctx, CallerFrom(ctx), in.Slug)
	if err != nil {
		return nil, err
	}
	return &body[*wod.Rehearsal]{h}, nil
}

func (s *Server) listRehearsals(ctx context.Context, in *listRehearsalsInput) (*list[*wod.Rehearsal], error) {
	hs, err := s.Operator.Rehearsals(ctx, in.Slug, in.Limit)
	if err != nil {
		return nil, err
	}
	return newList(hs, len(hs)), nil
}

func (s *Server) getRehearsal(ctx context.Context, in *rehearsalInput) (*body[*wod.Rehearsal], error) {
	h, err := s.Operator.Rehearsal(ctx, in.Slug, in.ID)
	if err != nil {
		return nil, err
	}
	return &body[*wod.Rehearsal]{h}, nil
}
