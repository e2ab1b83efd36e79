package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/lti"
)

type ltiPlatformCreate struct {
	Name          string   `json:"name" minLength:"1" maxLength:"63" doc:"The operators' name for it, e.g. moodle-cs101"`
	Issuer        string   `json:"issuer" minLength:"1" maxLength:"500" doc:"The platform's issuer (iss)"`
	ClientID      string   `json:"client_id" minLength:"1" maxLength:"500" doc:"The client id the platform gave wod"`
	DeploymentIDs []string `json:"deployment_ids,omitempty" doc:"Accepted deployment ids; empty accepts any"`
	AuthURL       string   `json:"auth_url" doc:"The platform's OIDC authorisation endpoint"`
	JWKSURL       string   `json:"jwks_url" doc:"The platform's public key set"`
	TokenURL      string   `json:"token_url,omitempty" doc:"The platform's access token URL: set it to post completions to the grade book"`
}

// LTIToolConfig is what an operator enters in the learning platform.
type LTIToolConfig struct {
	LoginURL    string `json:"login_url" doc:"Initiate login URL"`
	RedirectURL string `json:"redirect_url" doc:"Redirection URI (the launch)"`
	JWKSURL     string `json:"jwks_url" doc:"Public keyset URL: the tool's key, for grade passback"`
	TargetLink  string `json:"target_link_example" doc:"Tool / target link URL of an activity: name its workshop"`
	CustomParam string `json:"custom_parameter_example" doc:"Or the activity's custom parameter"`
}

type createLTIPlatformInput struct{ Body ltiPlatformCreate }

func (s *Server) registerLTI() {
	tags := []string{"LTI"}
	register(s, huma.Operation{OperationID: "get-lti-tool", Method: http.MethodGet, Path: APIPrefix + "/lti/tool",
		Summary: "The tool's LTI 1.3 configuration", Tags: tags,
		Description: "The URLs to enter when registering wod as an LTI 1.3 tool in a learning platform."},
		wod.RoleModerator, s.getLTITool)
	register(s, huma.Operation{OperationID: "list-lti-platforms", Method: http.MethodGet, Path: APIPrefix + "/lti/platforms",
		Summary: "List the learning platforms", Tags: tags},
		wod.RoleModerator, s.listLTIPlatforms)
	register(s, huma.Operation{OperationID: "create-lti-platform", Method: http.MethodPost, Path: APIPrefix + "/lti/platforms",
		Summary: "Register a learning platform", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Lets the platform launch workshops with LTI 1.3: a course activity opens a workshop, and the " +
			"learner arrives registered with the name and e-mail the platform shares."},
		wod.RoleAdmin, s.createLTIPlatform)
	register(s, huma.Operation{OperationID: "delete-lti-platform", Method: http.MethodDelete, Path: APIPrefix + "/lti/platforms/{id}",
		Summary: "Remove a learning platform", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleAdmin, s.deleteLTIPlatform)
}

func (s *Server) getLTITool(context.Context, *struct{}) (*body[LTIToolConfig], error) {
	return &body[LTIToolConfig]{ToolConfig(s.PublicURL)}, nil
}

func (s *Server) listLTIPlatforms(ctx context.Context, _ *struct{}) (*body[[]*wod.LTIPlatform], error) {
	ps, err := s.LTI.FindLTIPlatforms(ctx)
	if ps == nil {
		ps = []*wod.LTIPlatform{}
	}
	return &body[[]*wod.LTIPlatform]{ps}, err
}

func (s *Server) createLTIPlatform(ctx context.Context, in *createLTIPlatformInput) (*body[*wod.LTIPlatform], error) {
	p := &wod.LTIPlatform{Name: in.Body.Name, Issuer: in.Body.Issuer, ClientID: in.Body.ClientID,
		DeploymentIDs: in.Body.DeploymentIDs, AuthURL: in.Body.AuthURL, JWKSURL: in.Body.JWKSURL, TokenURL: in.Body.TokenURL}
	if err := s.Operator.CreateLTIPlatform(ctx, CallerFrom(ctx), p); err != nil {
		return nil, err
	}
	return &body[*wod.LTIPlatform]{p}, nil
}

func (s *Server) deleteLTIPlatform(ctx context.Context, in *IDParam) (*empty, error) {
	if err := s.Operator.DeleteLTIPlatform(ctx, CallerFrom(ctx), in.ID); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

// ToolConfig is the tool's side of an LTI registration, for the server at
// publicURL.
func ToolConfig(publicURL string) LTIToolConfig {
	return LTIToolConfig{
		LoginURL:    publicURL + lti.LoginPath,
		RedirectURL: publicURL + lti.LaunchPath,
		JWKSURL:     publicURL + lti.JWKSPath,
		TargetLink:  publicURL + lti.LaunchPath + "?workshop=WKSHP-API101",
		CustomParam: "workshop=WKSHP-API101",
	}
}
