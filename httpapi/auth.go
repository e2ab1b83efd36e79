package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/login"
	"github.com/wod-dev/wod/secret"
)

// SessionCookie carries an operator's login session.
const SessionCookie = "wod_session"

type callerKey struct{}

// CallerFrom returns who makes the request; never nil.
func CallerFrom(ctx context.Context) *wod.Caller {
	if c, ok := ctx.Value(callerKey{}).(*wod.Caller); ok {
		return c
	}
	return &wod.Caller{}
}

// authenticate resolves the caller from a bearer token or a session cookie
// and enforces the role an operation needs. Bad credentials are refused
// even on public operations: a client that thinks it is authenticated must
// hear that it is not.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if need, _ := ctx.Operation().Metadata["role"].(wod.Role); need == roleAgent {
		s.authenticateAgent(ctx, next)
		return
	}
	caller, err := s.resolveCaller(ctx.Context(), ctx.Header("Authorization"), ctx.Header("Cookie"))
	if err != nil {
		s.writeErr(ctx, err)
		return
	}
	if need, ok := ctx.Operation().Metadata["role"].(wod.Role); ok {
		switch {
		case caller.Anonymous():
			s.writeErr(ctx, wod.Errorf(wod.EUNAUTHORIZED, "this operation needs a bearer token or a login session"))
			return
		case !caller.Role.Allows(need):
			s.writeErr(ctx, wod.Errorf(wod.EFORBIDDEN, "this operation needs the %s role; you are %s", need, caller.Role))
			return
		}
	}
	next(huma.WithValue(ctx, callerKey{}, caller))
}

// authenticateAgent admits an agent by its location's token.
func (s *Server) authenticateAgent(ctx huma.Context, next func(huma.Context)) {
	scheme, token, _ := strings.Cut(ctx.Header("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.writeErr(ctx, wod.Errorf(wod.EUNAUTHORIZED, "the agent protocol needs the location's agent token as a bearer token"))
		return
	}
	hash := secret.HashToken(strings.TrimSpace(token))
	l, err := s.agentTokens.lookup(ctx.Context(), hash, s.AgentAuth.FindLocationByAgentToken)
	if err != nil {
		s.writeErr(ctx, err)
		return
	}
	next(huma.WithValue(ctx, locationKey{}, l))
}

func (s *Server) writeErr(ctx huma.Context, err error) {
	e := s.apiError(ctx.Context(), err).(*ErrorBody)
	for k, v := range e.GetHeaders() {
		ctx.SetHeader(k, v[0])
	}
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(e.Status)
	if err := huma.DefaultJSONFormat.Marshal(ctx.BodyWriter(), e); err != nil {
		s.Logger.Error("write error response", "error", err)
	}
}

func (s *Server) resolveCaller(ctx context.Context, authorization, cookies string) (*wod.Caller, error) {
	if authorization != "" {
		scheme, token, _ := strings.Cut(authorization, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, wod.Errorf(wod.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\"")
		}
		t, err := s.Tokens.FindTokenByHash(ctx, secret.HashToken(strings.TrimSpace(token)))
		if err != nil {
			return nil, err
		}
		return &wod.Caller{TokenID: t.ID, Name: "token:" + t.Name, Role: t.Role}, nil
	}
	if cookies != "" {
		cs, _ := http.ParseCookie(cookies)
		for _, c := range cs {
			if c.Name != SessionCookie || c.Value == "" {
				continue
			}
			u, err := s.Sessions.FindSessionUser(ctx, secret.HashToken(c.Value))
			if err != nil {
				return nil, err
			}
			return &wod.Caller{UserID: u.ID, Name: u.Username, Role: u.Role}, nil
		}
	}
	return &wod.Caller{}, nil
}

// Login checks a person's password under the login guard's throttle and
// returns a new session secret. The web UI uses it too.
func (s *Server) Login(ctx context.Context, username, password string) (*login.Session, error) {
	return s.logins.Login(ctx, ClientIP(ctx), username, password)
}

// SessionCookieFor builds the cookie that carries a session.
func (s *Server) SessionCookieFor(token string, expires time.Time) *http.Cookie {
	// Max-Age rather than Expires: the browser counts from receipt, so a
	// client whose clock is off keeps the session as long as we do.
	return &http.Cookie{Name: SessionCookie, Value: token, Path: "/", MaxAge: max(int(expires.Sub(s.Clock.Now())/time.Second), 1), HttpOnly: true,
		Secure: strings.HasPrefix(s.PublicURL, "https://"), SameSite: http.SameSiteLaxMode}
}

type loginInput struct {
	Body struct {
		Username string `json:"username" minLength:"1" maxLength:"64"`
		Password string `json:"password" minLength:"1" maxLength:"1024"`
	}
}

type loginOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      struct {
		Username  string    `json:"username"`
		Role      wod.Role  `json:"role"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

type meOutput struct {
	Body struct {
		Name string   `json:"name"`
		Role wod.Role `json:"role"`
	}
}

type logoutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

type logoutInput struct {
	Session string `cookie:"wod_session"`
}

func (s *Server) registerSessions() {
	register(s, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: APIPrefix + "/login",
		Summary: "Log in", Tags: []string{"Sessions"},
		Errors: []int{http.StatusUnauthorized, http.StatusTooManyRequests},
		Description: "Checks an operator's password and sets the session cookie. Repeated failures lock the " +
			"client address, and the user name from that address, out for a growing time (429 with Retry-After); " +
			"a login from elsewhere is not affected. Only a few passwords are checked at once: beyond them the " +
			"answer is 429 with Retry-After: 1."},
		"", s.logIn)
	register(s, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: APIPrefix + "/logout",
		Summary: "Log out", Tags: []string{"Sessions"}, DefaultStatus: http.StatusNoContent,
		Description: "Ends the session of the cookie, if any, and clears the cookie."},
		wod.RoleModerator, s.logOut)
	register(s, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: APIPrefix + "/me",
		Summary: "Who am I", Tags: []string{"Sessions"}},
		wod.RoleModerator, s.whoAmI)
}

func (s *Server) logIn(ctx context.Context, in *loginInput) (*loginOutput, error) {
	sess, err := s.Login(ctx, in.Body.Username, in.Body.Password)
	if err != nil {
		return nil, err
	}
	out := &loginOutput{SetCookie: *s.SessionCookieFor(sess.Token, sess.ExpiresAt)}
	out.Body.Username, out.Body.Role, out.Body.ExpiresAt = sess.User.Username, sess.User.Role, sess.ExpiresAt
	return out, nil
}

func (s *Server) logOut(ctx context.Context, in *logoutInput) (*logoutOutput, error) {
	if in.Session != "" {
		if err := s.Sessions.DeleteSession(ctx, secret.HashToken(in.Session)); err != nil {
			return nil, err
		}
	}
	return &logoutOutput{SetCookie: http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true}}, nil
}

func (s *Server) whoAmI(ctx context.Context, _ *struct{}) (*meOutput, error) {
	c := CallerFrom(ctx)
	out := &meOutput{}
	out.Body.Name, out.Body.Role = c.Name, c.Role
	return out, nil
}
