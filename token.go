package wod

import (
	"context"
	"time"
)

// Token is an API bearer token. Only its hash is stored; the secret is shown
// once, when it is created.
type Token struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Prefix is the start of the secret, to recognise a token in a list.
	Prefix     string     `json:"prefix"`
	Hash       []byte     `json:"-"`
	CreatedBy  string     `json:"created_by,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Validate checks the token's own rules.
func (t *Token) Validate() error {
	var v Validation
	v.Check(len(t.Name) <= 100, "name", "is longer than 100 characters")
	v.Check(t.Role.Valid(), "role", "must be admin or moderator")
	v.Check(len(t.Hash) > 0, "hash", "is required")
	return v.Err("the token is not valid")
}

// TokenService manages API tokens.
type TokenService interface {
	FindTokens(ctx context.Context) ([]*Token, error)
	CreateToken(ctx context.Context, t *Token) error
	DeleteToken(ctx context.Context, id int64) error
	// FindTokenByHash returns the unexpired token with the hash and records
	// its use, or EUNAUTHORIZED.
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)
}
