package operator

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// TokenSpec is an API token to create.
type TokenSpec struct {
	// Name says what the token is for: a nameless token cannot be told
	// apart in the list when the time comes to revoke it.
	Name string
	Role wod.Role
	// ExpiresIn is the token's lifetime, a duration such as "720h"; empty,
	// the token does not expire.
	ExpiresIn string
}

// ValidateToken checks a token's specification without creating it. A
// form that has problems of its own shows them together with these.
func (s *Service) ValidateToken(spec TokenSpec) error {
	_, err := parseTokenSpec(spec)
	return err
}

// parseTokenSpec checks spec and returns the token's lifetime, zero for
// none.
func parseTokenSpec(spec TokenSpec) (time.Duration, error) {
	var v wod.Validation
	switch {
	case strings.TrimSpace(spec.Name) == "":
		v.Add("name", "is required: say what the token is for")
	case len(spec.Name) > 100:
		v.Add("name", "is longer than 100 characters")
	}
	v.Check(spec.Role.Valid(), "role", "must be admin or moderator")
	var lifetime time.Duration
	if spec.ExpiresIn != "" {
		d, err := time.ParseDuration(spec.ExpiresIn)
		if err != nil || d <= 0 {
			v.Add("expires_in", "must be a positive duration such as 720h")
		}
		lifetime = d
	}
	return lifetime, v.Err("the token is not valid")
}

// CreateToken mints an API token for the caller, who is recorded as its
// creator. The secret is returned once; only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, by *wod.Caller, spec TokenSpec) (*wod.Token, string, error) {
	lifetime, err := parseTokenSpec(spec)
	if err != nil {
		return nil, "", err
	}
	tok, prefix, hash := secret.NewToken()
	t := &wod.Token{Name: spec.Name, Role: spec.Role, Prefix: prefix, Hash: hash, CreatedBy: callerName(by)}
	if lifetime > 0 {
		exp := s.Clock.Now().Add(lifetime)
		t.ExpiresAt = &exp
	}
	if err := s.Tokens.CreateToken(ctx, t); err != nil {
		return nil, "", err
	}
	s.audit(ctx, by, "token.create", "token:"+strconv.FormatInt(t.ID, 10), t.Name+" ("+string(t.Role)+")")
	return t, tok, nil
}

// DeleteToken revokes an API token: it no longer opens the API.
func (s *Service) DeleteToken(ctx context.Context, by *wod.Caller, id int64) error {
	if err := s.Tokens.DeleteToken(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, by, "token.delete", "token:"+strconv.FormatInt(id, 10), "")
	return nil
}
