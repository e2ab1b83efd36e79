package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

type userCreate struct {
	Username string   `json:"username" pattern:"^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$"`
	Email    string   `json:"email,omitempty" maxLength:"254"`
	Role     wod.Role `json:"role" enum:"admin,moderator"`
	Password string   `json:"password,omitempty" maxLength:"1024" doc:"At least 12 characters; leave out to have one generated and returned once"`
}

type userPatch struct {
	Email    *string   `json:"email,omitempty" maxLength:"254"`
	Role     *wod.Role `json:"role,omitempty" enum:"admin,moderator"`
	Disabled *bool     `json:"disabled,omitempty"`
	Password *string   `json:"password,omitempty" maxLength:"1024" doc:"A new password, at least 12 characters; it ends the user's sessions"`
}

type userCreated struct {
	*wod.User
	Password string `json:"password,omitempty" doc:"The generated password, shown this once"`
}

type tokenCreate struct {
	Name      string   `json:"name" maxLength:"100" doc:"What the token is for"`
	Role      wod.Role `json:"role" enum:"admin,moderator"`
	ExpiresIn string   `json:"expires_in,omitempty" doc:"Lifetime such as \"720h\"; leave out for a token that does not expire"`
}

type tokenCreated struct {
	*wod.Token
	Secret string `json:"token" doc:"The bearer token, shown this once"`
}

// IDParam is a numeric id in the path.
type IDParam struct {
	ID int64 `path:"id"`
}

type createUserInput struct{ Body userCreate }

type updateUserInput struct {
	IDParam
	Body userPatch
}

type createTokenInput struct{ Body tokenCreate }

func (s *Server) registerPeople() {
	s.registerSessions()
	tags := []string{"Users and tokens"}
	register(s, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: APIPrefix + "/users",
		Summary: "List operators", Tags: tags},
		wod.RoleAdmin, s.listUsers)
	register(s, huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: APIPrefix + "/users",
		Summary: "Add an operator", Tags: tags, DefaultStatus: http.StatusCreated},
		wod.RoleAdmin, s.createUser)
	register(s, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: APIPrefix + "/users/{id}",
		Summary: "Change an operator", Tags: tags,
		Description: "The last enabled admin can be neither demoted nor disabled."},
		wod.RoleAdmin, s.updateUser)
	register(s, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: APIPrefix + "/users/{id}",
		Summary: "Remove an operator", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleAdmin, s.deleteUser)
	register(s, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: APIPrefix + "/tokens",
		Summary: "List API tokens", Tags: tags, Description: "Their names, roles and prefixes; never the secrets."},
		wod.RoleAdmin, s.listTokens)
	register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: APIPrefix + "/tokens",
		Summary: "Create an API token", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "The token is in the answer, once; only its hash is kept."},
		wod.RoleAdmin, s.createToken)
	register(s, huma.Operation{OperationID: "delete-token", Method: http.MethodDelete, Path: APIPrefix + "/tokens/{id}",
		Summary: "Revoke an API token", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleAdmin, s.deleteToken)
}

func (s *Server) listUsers(ctx context.Context, _ *struct{}) (*body[[]*wod.User], error) {
	us, err := s.Users.FindUsers(ctx)
	if us == nil {
		us = []*wod.User{}
	}
	return &body[[]*wod.User]{us}, err
}

func (s *Server) createUser(ctx context.Context, in *createUserInput) (*body[userCreated], error) {
	u, generated, err := s.Operator.CreateUser(ctx, CallerFrom(ctx), operator.NewUser{Username: in.Body.Username,
		Email: in.Body.Email, Role: in.Body.Role, Password: in.Body.Password})
	if err != nil {
		return nil, err
	}
	return &body[userCreated]{userCreated{User: u, Password: generated}}, nil
}

func (s *Server) updateUser(ctx context.Context, in *updateUserInput) (*body[*wod.User], error) {
	u, err := s.Operator.UpdateUser(ctx, CallerFrom(ctx), in.ID, operator.UserChange{Email: in.Body.Email,
		Role: in.Body.Role, Disabled: in.Body.Disabled, Password: in.Body.Password})
	if err != nil {
		return nil, err
	}
	return &body[*wod.User]{u}, nil
}

func (s *Server) deleteUser(ctx context.Context, in *IDParam) (*empty, error) {
	if _, err := s.Operator.DeleteUser(ctx, CallerFrom(ctx), in.ID); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (s *Server) listTokens(ctx context.Context, _ *struct{}) (*body[[]*wod.Token], error) {
	ts, err := s.Tokens.FindTokens(ctx)
	if ts == nil {
		ts = []*wod.Token{}
	}
	return &body[[]*wod.Token]{ts}, err
}

func (s *Server) createToken(ctx context.Context, in *createTokenInput) (*body[tokenCreated], error) {
	t, secret, err := s.Operator.CreateToken(ctx, CallerFrom(ctx), operator.TokenSpec{Name: in.Body.Name,
		Role: in.Body.Role, ExpiresIn: in.Body.ExpiresIn})
	if err != nil {
		return nil, err
	}
	return &body[tokenCreated]{tokenCreated{Token: t, Secret: secret}}, nil
}

func (s *Server) deleteToken(ctx context.Context, in *IDParam) (*empty, error) {
	if err := s.Operator.DeleteToken(ctx, CallerFrom(ctx), in.ID); err != nil {
		return nil, err
	}
	return &empty{}, nil
}
