package httpapi

import (
	"context"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// The web pages share the API's guards rather than keeping their own: one
// login throttle, one session store, one registration rate limit. These
// methods are what they use.

// SessionCaller resolves an operator's session secret (the cookie's value).
func (s *Server) SessionCaller(ctx context.Context, token string) (*wod.Caller, error) {
	u, err := s.Sessions.FindSessionUser(ctx, secret.HashToken(token))
	if err != nil {
		return nil, err
	}
	return &wod.Caller{UserID: u.ID, Name: u.Username, Role: u.Role}, nil
}

// Logout ends the session whose secret is token.
func (s *Server) Logout(ctx context.Context, token string) error {
	return s.Sessions.DeleteSession(ctx, secret.HashToken(token))
}

// AllowRegistration takes a token from the client's registration bucket,
// or says how long it must wait.
func (s *Server) AllowRegistration(ctx context.Context) (bool, time.Duration) {
	return s.limiter.allow(ClientIP(ctx))
}

// ClientAddress is the client's address as the API sees it (behind a
// trusted proxy, the last hop the proxy recorded).
func (s *Server) ClientAddress(ctx context.Context) string { return ClientIP(ctx) }
