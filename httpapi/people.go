package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
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

func checkPassword(p string) error {
	if len(p) < wod.MinPasswordLength {
		return invalid("password", "must be at least %d characters", wod.MinPasswordLength)
	}
	return nil
}

func (s *Server) registerPeople() {
	s.registerSessions()
	tags := []string{"Users and tokens"}
	register(s, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: APIPrefix + "/users",
		Summary: "List operators", Tags: tags},
		wod.RoleAdmin, func(ctx context.Context, _ *struct{}) (*body[[]*wod.User], error) {
			us, err := s.Users.FindUsers(ctx)
			if us == nil {
				us = []*wod.User{}
			}
			return &body[[]*wod.User]{us}, err
		})
	register(s, huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: APIPrefix + "/users",
		Summary: "Add an operator", Tags: tags, DefaultStatus: http.StatusCreated},
		wod.RoleAdmin, func(ctx context.Context, in *struct{ Body userCreate }) (*body[userCreated], error) {
			pw, generated := in.Body.Password, ""
			if pw == "" {
				pw = secret.StudentPassword() + secret.StudentPassword()
				generated = pw
			} else if err := checkPassword(pw); err != nil {
				return nil, err
			}
			hash, err := secret.HashPassword(pw)
			if err != nil {
				return nil, err
			}
			u := &wod.User{Username: in.Body.Username, Email: in.Body.Email, Role: in.Body.Role, PasswordHash: hash}
			if err := s.Users.CreateUser(ctx, u); err != nil {
				return nil, err
			}
			s.audit(ctx, "user.create", "user:"+u.Username, "role "+string(u.Role))
			return &body[userCreated]{userCreated{User: u, Password: generated}}, nil
		})
	register(s, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: APIPrefix + "/users/{id}",
		Summary: "Change an operator", Tags: tags,
		Description: "The last enabled admin can be neither demoted nor disabled."},
		wod.RoleAdmin, func(ctx context.Context, in *struct {
			IDParam
			Body userPatch
		}) (*body[*wod.User], error) {
			upd := wod.UserUpdate{Email: in.Body.Email, Role: in.Body.Role, Disabled: in.Body.Disabled}
			if in.Body.Password != nil {
				if err := checkPassword(*in.Body.Password); err != nil {
					return nil, err
				}
				hash, err := secret.HashPassword(*in.Body.Password)
				if err != nil {
					return nil, err
				}
				upd.PasswordHash = &hash
			}
			u, err := s.Users.UpdateUser(ctx, in.ID, upd)
			if err != nil {
				return nil, err
			}
			s.audit(ctx, "user.update", "user:"+u.Username, "")
			return &body[*wod.User]{u}, nil
		})
	register(s, huma.Operation{OperationID: "delete-user", Method: http.MethodDelete, Path: APIPrefix + "/users/{id}",
		Summary: "Remove an operator", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleAdmin, func(ctx context.Context, in *IDParam) (*empty, error) {
			if err := s.Users.DeleteUser(ctx, in.ID); err != nil {
				return nil, err
			}
			s.audit(ctx, "user.delete", "user:"+strconv.FormatInt(in.ID, 10), "")
			return &empty{}, nil
		})
	register(s, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: APIPrefix + "/tokens",
		Summary: "List API tokens", Tags: tags, Description: "Their names, roles and prefixes; never the secrets."},
		wod.RoleAdmin, func(ctx context.Context, _ *struct{}) (*body[[]*wod.Token], error) {
			ts, err := s.Tokens.FindTokens(ctx)
			if ts == nil {
				ts = []*wod.Token{}
			}
			return &body[[]*wod.Token]{ts}, err
		})
	register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: APIPrefix + "/tokens",
		Summary: "Create an API token", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "The token is in the answer, once; only its hash is kept."},
		wod.RoleAdmin, func(ctx context.Context, in *struct{ Body tokenCreate }) (*body[tokenCreated], error) {
			t, secretToken, err := NewToken(s.Clock, in.Body.Name, in.Body.Role, in.Body.ExpiresIn, CallerFrom(ctx).Name)
			if err != nil {
				return nil, err
			}
			if err := s.Tokens.CreateToken(ctx, t); err != nil {
				return nil, err
			}
			s.audit(ctx, "token.create", "token:"+strconv.FormatInt(t.ID, 10), t.Name+" ("+string(t.Role)+")")
			return &body[tokenCreated]{tokenCreated{Token: t, Secret: secretToken}}, nil
		})
	register(s, huma.Operation{OperationID: "delete-token", Method: http.MethodDelete, Path: APIPrefix + "/tokens/{id}",
		Summary: "Revoke an API token", Tags: tags, DefaultStatus: http.StatusNoContent},
		wod.RoleAdmin, func(ctx context.Context, in *IDParam) (*empty, error) {
			if err := s.Tokens.DeleteToken(ctx, in.ID); err != nil {
				return nil, err
			}
			s.audit(ctx, "token.delete", "token:"+strconv.FormatInt(in.ID, 10), "")
			return &empty{}, nil
		})
}

// NewToken makes a token record and its secret; the CLI uses it too.
func NewToken(clock wod.Clock, name string, role wod.Role, expiresIn, createdBy string) (*wod.Token, string, error) {
	tok, prefix, hash := secret.NewToken()
	t := &wod.Token{Name: name, Role: role, Prefix: prefix, Hash: hash, CreatedBy: createdBy}
	if expiresIn != "" {
		d, err := time.ParseDuration(expiresIn)
		if err != nil || d <= 0 {
			return nil, "", invalid("expires_in", "must be a positive duration such as 720h")
		}
		exp := clock.Now().Add(d)
		t.ExpiresAt = &exp
	}
	return t, tok, nil
}
