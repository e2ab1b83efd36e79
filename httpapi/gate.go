package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
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

// RequireOperator lets through requests from an operator (any role), by
// bearer token or session, as the API's routes authenticate them; others
// get the API's 401 answer. It guards what is not an API operation, such
// as /metrics.
func (s *Server) RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.resolveCaller(r.Context(), r.Header.Get("Authorization"), r.Header.Get("Cookie"))
		if err == nil && caller.Anonymous() {
			err = wod.Errorf(wod.EUNAUTHORIZED, "this needs an operator's bearer token or login session")
		}
		if err != nil {
			e := s.apiError(r.Context(), err).(*ErrorBody)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="wod"`)
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(e)
			return
		}
		next.ServeHTTP(w, r)
	})
}
