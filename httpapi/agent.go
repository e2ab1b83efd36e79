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
		roleAgent, s.claimJob)
	register(s, huma.Operation{OperationID: "agent-report", Method: http.MethodPost, Path: APIPrefix + "/agent/jobs/{id}/report",
		Summary: "Report a job's result", Tags: tags, DefaultStatus: http.StatusNoContent,
		// A cleanup carries the participant's notebooks, zipped (content.MaxArchive
		// uncompressed at most, base64 in the JSON).
		MaxBodyBytes: 32 << 20,
		Description: "Success with its outputs (the new password after create, the completion and the " +
			"participant's notebooks after cleanup), or failure with the error; a failure is retried with " +
			"backoff. 409 when the lease was lost."},
		roleAgent, s.reportJob)
	register(s, huma.Operation{OperationID: "agent-heartbeat", Method: http.MethodPost, Path: APIPrefix + "/agent/heartbeat",
		Summary: "Say the agent is alive", Tags: tags, DefaultStatus: http.StatusNoContent},
		roleAgent, s.heartbeat)
	register(s, huma.Operation{OperationID: "agent-seats", Method: http.MethodGet, Path: APIPrefix + "/agent/seats",
		Summary: "Seats in use", Tags: tags,
		Description: "The student numbers of the location that belong to a registration or to a warm pool (held; the process guard spares only them), and those of its warm seats (warm; the agent keeps their notebook servers running)."},
		roleAgent, s.heldSeats)
	register(s, huma.Operation{OperationID: "agent-event", Method: http.MethodPost, Path: APIPrefix + "/agent/events",
		Summary: "Report what the agent did", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Something the agent did on its own, such as a process the guard killed; it joins the audit trail."},
		roleAgent, s.agentEvent)
	register(s, huma.Operation{OperationID: "agent-checks", Method: http.MethodPost, Path: APIPrefix + "/agent/checks",
		Summary: "Report the host checks", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "The results of a run of `wod check` on the location's host (every --check-every). They replace " +
			"the location's last results; a check that fails now and did not before alerts the operators and " +
			"records a check.failed event (its webhooks)."},
		roleAgent, s.agentChecks)
	register(s, huma.Operation{OperationID: "create-agent-token", Method: http.MethodPost,
		Path: APIPrefix + "/locations/{name}/agent-token", Summary: "Issue the location's agent token", Tags: []string{"Locations"},
		DefaultStatus: http.StatusCreated,
		Description:   "A new token for the location's agent, shown once; the previous one stops working."},
		wod.RoleAdmin, s.createAgentToken)
}

// agentName names the calling agent in job leases.
func agentName(l *wod.Location) string { return "agent@" + l.Name }

// claimJobInput is an alias, as are the other inputs and outputs with an
// anonymous body: huma names an anonymous body's schema after the
// operation ("Agent-claimRequest") unless the type around it has a name,
// and the API's document keeps its names.
type claimJobInput = struct {
	Body struct {
		WaitSeconds int `json:"wait_seconds,omitempty" minimum:"0" maximum:"60"`
	}
}

type claimJobOutput struct {
	Status int
	Body   *wod.AgentJob
}

// claimJob is agent-claim: the next job of the agent's location, waiting
// for one up to wait_seconds; 204 when none came.
func (s *Server) claimJob(ctx context.Context, in *claimJobInput) (*claimJobOutput, error) {
	l := agentLocation(ctx)
	job, err := s.Agents.ClaimJob(ctx, l.ID, agentName(l), time.Duration(in.Body.WaitSeconds)*time.Second)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return &claimJobOutput{Status: http.StatusNoContent}, nil
	}
	return &claimJobOutput{Status: http.StatusOK, Body: job}, nil
}

type reportJobInput struct {
	IDParam
	Body wod.AgentResult
}

// reportJob is agent-report: a claimed job's result.
func (s *Server) reportJob(ctx context.Context, in *reportJobInput) (*empty, error) {
	l := agentLocation(ctx)
	return &empty{}, s.Agents.ReportJob(ctx, l.ID, in.ID, agentName(l), in.Body)
}

type heartbeatInput struct {
	Body wod.AgentHeartbeat
}

// heartbeat is agent-heartbeat: the agent is alive, with the jobs it runs.
func (s *Server) heartbeat(ctx context.Context, in *heartbeatInput) (*empty, error) {
	return &empty{}, s.Agents.Heartbeat(ctx, agentLocation(ctx).ID, in.Body)
}

// heldSeatsOutput is an alias (see claimJobInput).
type heldSeatsOutput = body[struct {
	Held []int `json:"held"`
	Warm []int `json:"warm"`
}]

// heldSeats is agent-seats: the location's seats that belong to a
// registration.
func (s *Server) heldSeats(ctx context.Context, _ *struct{}) (*heldSeatsOutput, error) {
	held, err := s.Agents.HeldSeats(ctx, agentLocation(ctx).ID)
	if err != nil {
		return nil, err
	}
	warm, err := s.Agents.WarmSeats(ctx, agentLocation(ctx).ID)
	if err != nil {
		return nil, err
	}
	out := &heldSeatsOutput{}
	out.Body.Held, out.Body.Warm = held, warm
	return out, nil
}

type agentEventInput = struct {
	Body struct {
		Kind   string `json:"kind" pattern:"^[a-z][a-z0-9_.-]{0,63}$" doc:"e.g. guard.kill"`
		Detail string `json:"detail" maxLength:"2000"`
	}
}

// agentEvent is agent-event: something the agent did on its own, for the
// audit trail.
func (s *Server) agentEvent(ctx context.Context, in *agentEventInput) (*empty, error) {
	return &empty{}, s.Agents.AgentEvent(ctx, agentLocation(ctx).ID, in.Body.Kind, in.Body.Detail)
}

type agentChecksInput = struct {
	Body struct {
		Checks []wod.CheckResult `json:"checks" maxItems:"200"`
	}
}

// agentChecks is agent-checks: a run of the host checks at the location.
func (s *Server) agentChecks(ctx context.Context, in *agentChecksInput) (*empty, error) {
	return &empty{}, s.Agents.ReportChecks(ctx, agentLocation(ctx).ID, in.Body.Checks)
}
