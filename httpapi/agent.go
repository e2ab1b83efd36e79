package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
)

// AgentAuth finds the location an agent token belongs to.
type AgentAuth interface {
	FindLocationByAgentToken(ctx context.Context, hash []byte) (*wod.Location, error)
	SetLocationAgentToken(ctx context.Context, name string, hash []byte) error
}

// roleAgent marks the operations of the agent protocol: they take a
// location's agent token, not an operator's.
const roleAgent wod.Role = "agent"

type locationKey struct{}

func agentLocation(ctx context.Context) *wod.Location {
	l, _ := ctx.Value(locationKey{}).(*wod.Location)
	return l
}

// MaxClaimWait bounds an agent's long-poll.
const MaxClaimWait = 60 * time.Second

func (s *Server) registerAgents() {
	tags := []string{"Agent protocol"}
	register(s, huma.Operation{OperationID: "agent-claim", Method: http.MethodPost, Path: APIPrefix + "/agent/claim",
		Summary: "Claim the next job", Tags: tags,
		Description: "Long-poll: waits up to `wait_seconds` for an operation (create, cleanup, reset, purge) due at " +
			"the agent's location, and leases it. 204 when none came. Report before `lease_until`, or the job goes " +
			"to another attempt.", Responses: map[string]*huma.Response{"204": {Description: "No job came"}}},
		roleAgent, func(ctx context.Context, in *struct {
			Body struct {
				WaitSeconds int `json:"wait_seconds,omitempty" minimum:"0" maximum:"60"`
			}
		}) (*struct {
			Status int
			Body   *wod.AgentJob
		}, error) {
			l := agentLocation(ctx)
			job, err := s.Agents.ClaimJob(ctx, l.ID, "agent@"+l.Name, time.Duration(in.Body.WaitSeconds)*time.Second)
			if err != nil {
				return nil, err
			}
			if job == nil {
				return &struct {
					Status int
					Body   *wod.AgentJob
				}{Status: http.StatusNoContent}, nil
			}
			return &struct {
				Status int
				Body   *wod.AgentJob
			}{Status: http.StatusOK, Body: job}, nil
		})
	register(s, huma.Operation{OperationID: "agent-report", Method: http.MethodPost, Path: APIPrefix + "/agent/jobs/{id}/report",
		Summary: "Report a job's result", Tags: tags, DefaultStatus: http.StatusNoContent,
		// A cleanup carries the participant's notebooks, zipped (content.MaxArchive
		// uncompressed at most, base64 in the JSON).
		MaxBodyBytes: 32 << 20,
		Description: "Success with its outputs (the new password after create, the completion and the " +
			"participant's notebooks after cleanup), or failure with the error; a failure is retried with " +
			"backoff. 409 when the lease was lost."},
		roleAgent, func(ctx context.Context, in *struct {
			IDParam
			Body wod.AgentResult
		}) (*empty, error) {
			l := agentLocation(ctx)
			return &empty{}, s.Agents.ReportJob(ctx, l.ID, in.ID, "agent@"+l.Name, in.Body)
		})
	register(s, huma.Operation{OperationID: "agent-heartbeat", Method: http.MethodPost, Path: APIPrefix + "/agent/heartbeat",
		Summary: "Say the agent is alive", Tags: tags, DefaultStatus: http.StatusNoContent},
		roleAgent, func(ctx context.Context, in *struct {
			Body wod.AgentHeartbeat
		}) (*empty, error) {
			return &empty{}, s.Agents.Heartbeat(ctx, agentLocation(ctx).ID, in.Body)
		})
	register(s, huma.Operation{OperationID: "agent-seats", Method: http.MethodGet, Path: APIPrefix + "/agent/seats",
		Summary: "Seats in use", Tags: tags,
		Description: "The student numbers of the location that belong to a registration; the process guard spares only them."},
		roleAgent, func(ctx context.Context, _ *struct{}) (*body[struct {
			Held []int `json:"held"`
		}], error) {
			held, err := s.Agents.HeldSeats(ctx, agentLocation(ctx).ID)
			if err != nil {
				return nil, err
			}
			out := &body[struct {
				Held []int `json:"held"`
			}]{}
			out.Body.Held = held
			return out, nil
		})
	register(s, huma.Operation{OperationID: "agent-event", Method: http.MethodPost, Path: APIPrefix + "/agent/events",
		Summary: "Report what the agent did", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Something the agent did on its own, such as a process the guard killed; it joins the audit trail."},
		roleAgent, func(ctx context.Context, in *struct {
			Body struct {
				Kind   string `json:"kind" pattern:"^[a-z][a-z0-9_.-]{0,63}$" doc:"e.g. guard.kill"`
				Detail string `json:"detail" maxLength:"2000"`
			}
		}) (*empty, error) {
			return &empty{}, s.Agents.AgentEvent(ctx, agentLocation(ctx).ID, in.Body.Kind, in.Body.Detail)
		})
	register(s, huma.Operation{OperationID: "create-agent-token", Method: http.MethodPost,
		Path: APIPrefix + "/locations/{name}/agent-token", Summary: "Issue the location's agent token", Tags: []string{"Locations"},
		DefaultStatus: http.StatusCreated,
		Description:   "A new token for the location's agent, shown once; the previous one stops working."},
		wod.RoleAdmin, s.createAgentToken)
}
