package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/secret"
)

// The legacy routes' tokens are HS256 JWTs, as the original's (its
// frontend and backend only pass them on), signed with a key derived from
// the server's signing key instead of the original's hard-coded one.
const (
	legacyJWTPurpose  = "legacy-api-jwt"
	legacyJWTAudience = "wod-legacy-api"
	// legacyStudentTTL bounds a participant's token: enough to unregister.
	legacyStudentTTL = time.Hour
)

// The original's authentication answers, which its clients know.
var (
	errLegacyNoToken      = legacyStatus{http.StatusForbidden, "No token provided!"}
	errLegacyUnauthorized = legacyStatus{http.StatusUnauthorized, "Unauthorized!"}
	errLegacyModerator    = legacyStatus{http.StatusForbidden, "Require Moderator or Admin Role!"}
)

// legacyStatus is an answer {message} with a status, as the original gives.
type legacyStatus struct {
	status  int
	message string
}

func (e legacyStatus) Error() string { return e.message }

// legacyPrincipal is who calls a legacy route: an operator (Caller), the
// holder of a running registration's student credentials (Registration),
// or nobody.
type legacyPrincipal struct {
	Caller       *wod.Caller
	Registration int64
}

func (p *legacyPrincipal) moderator() bool {
	return p != nil && p.Caller != nil && p.Caller.Role.Allows(wod.RoleModerator)
}

// holds reports whether the principal may act on registration id as its
// participant or as a moderator.
func (p *legacyPrincipal) holds(id int64) bool {
	return p.moderator() || (p != nil && p.Registration != 0 && p.Registration == id)
}

var studentNamePattern = regexp.MustCompile(`^student[1-9][0-9]{0,5}$`)

type legacyLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type legacyLoginAnswer struct {
	ID          int64    `json:"id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Roles       []string `json:"roles"`
	AccessToken string   `json:"accessToken"`
}

// legacyLogin is the original's POST /api/login: an operator gets a JWT
// wrapping a login session (so logging out, disabling the operator or the
// session's end revoke it); the holder of a running registration's student
// credentials gets one for that registration only. Both are throttled as
// wod's own logins are.
func (s *Server) legacyLogin(w http.ResponseWriter, r *http.Request, _ *legacyPrincipal) error {
	var in legacyLoginRequest
	if err := decodeLegacy(r, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" || len(in.Username) > 64 || len(in.Password) > 1024 {
		return legacyStatus{http.StatusUnauthorized, "wrong user name or password"}
	}
	if studentNamePattern.MatchString(in.Username) {
		if _, err := s.Users.FindUserByName(r.Context(), in.Username); wod.ErrorCode(err) == wod.ENOTFOUND {
			return s.legacyStudentLogin(w, r, in)
		}
	}
	sess, err := s.Login(r.Context(), in.Username, in.Password)
	if err != nil {
		return err
	}
	hash := secret.HashToken(sess.Token)
	tok, err := s.legacyJWT(sess.ExpiresAt, map[string]any{"id": sess.User.ID,
		"sid": base64.RawURLEncoding.EncodeToString(hash)})
	if err != nil {
		return err
	}
	roles := []string{"ROLE_USER", "ROLE_MODERATOR"}
	if sess.User.Role == wod.RoleAdmin {
		roles = append(roles, "ROLE_ADMIN")
	}
	writeLegacyJSON(w, http.StatusOK, legacyLoginAnswer{ID: sess.User.ID, Username: sess.User.Username,
		Email: sess.User.Email, Roles: roles, AccessToken: tok})
	return nil
}

// legacyStudentLogin admits the holder of a running registration's
// student credentials: what the original frontend's unregister dialog asks
// for. The user name alone is ambiguous across locations; the password
// decides.
func (s *Server) legacyStudentLogin(w http.ResponseWriter, r *http.Request, in legacyLoginRequest) error {
	var found *wod.Registration
	err := s.logins.Check(r.Context(), ClientIP(r.Context()), in.Username, func(ctx context.Context) (bool, error) {
		var err error
		found, err = s.findStudentHolder(ctx, in.Username, in.Password)
		return found != nil, err
	})
	if err != nil {
		return err
	}
	exp := s.Clock.Now().Add(legacyStudentTTL)
	tok, err := s.legacyJWT(exp, map[string]any{"id": found.ID, "reg": found.ID})
	if err != nil {
		return err
	}
	writeLegacyJSON(w, http.StatusOK, legacyLoginAnswer{ID: found.ID, Username: found.Username,
		Email: found.Email, Roles: []string{"ROLE_USER"}, AccessToken: tok})
	return nil
}

// findStudentHolder returns the running registration whose seat is
// username with that password, or nil.
func (s *Server) findStudentHolder(ctx context.Context, username, password string) (*wod.Registration, error) {
	for _, st := range wod.RunningStates {
		for page := 0; ; page++ {
			rs, n, err := s.Registrations.FindRegistrations(ctx, wod.RegistrationFilter{State: &st,
				Page: wod.Page{Limit: 1000, Offset: page * 1000}})
			if err != nil {
				return nil, err
			}
			for _, reg := range rs {
				if reg.Username != username {
					continue
				}
				pw, running, err := engine.StudentPassword(s.Keys, reg)
				if err != nil {
					return nil, err
				}
				if running && subtle.ConstantTimeCompare([]byte(pw), []byte(password)) == 1 {
					return reg, nil
				}
			}
			if (page+1)*1000 >= n {
				break
			}
		}
	}
	return nil, nil
}

func (s *Server) legacyJWT(exp time.Time, claims map[string]any) (string, error) {
	now := s.Clock.Now()
	b := jwt.NewBuilder().Issuer(s.PublicURL).Audience([]string{legacyJWTAudience}).IssuedAt(now).Expiration(exp)
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	t, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("legacy token: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.HS256(), s.Keys.Derive(legacyJWTPurpose)))
	if err != nil {
		return "", fmt.Errorf("legacy token: %w", err)
	}
	return string(signed), nil
}

// legacyPrincipalOf reads the caller of a legacy route: an x-access-token
// JWT, or one of wod's own bearer tokens. Cookies are not read: a browser
// sends them by itself, and these routes have no cross-site protection.
// A token that is present but not valid is refused, never taken as nobody.
func (s *Server) legacyPrincipalOf(r *http.Request) (*legacyPrincipal, error) {
	ctx := r.Context()
	if tok := strings.TrimSpace(r.Header.Get("x-access-token")); tok != "" {
		t, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.HS256(), s.Keys.Derive(legacyJWTPurpose)),
			jwt.WithAudience(legacyJWTAudience), jwt.WithClock(jwt.ClockFunc(s.Clock.Now)), jwt.WithValidate(true))
		if err != nil {
			return nil, errLegacyUnauthorized
		}
		var sid string
		if t.Get("sid", &sid) == nil {
			hash, err := base64.RawURLEncoding.DecodeString(sid)
			if err != nil {
				return nil, errLegacyUnauthorized
			}
			u, err := s.Sessions.FindSessionUser(ctx, hash)
			if wod.ErrorCode(err) == wod.ENOTFOUND || wod.ErrorCode(err) == wod.EUNAUTHORIZED {
				return nil, errLegacyUnauthorized
			}
			if err != nil {
				return nil, err
			}
			return &legacyPrincipal{Caller: &wod.Caller{UserID: u.ID, Name: u.Username, Role: u.Role}}, nil
		}
		var reg float64
		if t.Get("reg", &reg) != nil || reg < 1 {
			return nil, errLegacyUnauthorized
		}
		// The participant's token lasts while the registration runs.
		rg, err := s.Registrations.FindRegistration(ctx, int64(reg))
		if err != nil || !rg.State.Live() {
			return nil, errLegacyUnauthorized
		}
		return &legacyPrincipal{Registration: rg.ID}, nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		c, err := s.resolveCaller(ctx, auth, "")
		if err != nil {
			if wod.ErrorCode(err) == wod.ENOTFOUND || wod.ErrorCode(err) == wod.EUNAUTHORIZED {
				return nil, errLegacyUnauthorized
			}
			return nil, err
		}
		return &legacyPrincipal{Caller: c}, nil
	}
	return nil, nil
}

// legacyID reads a numeric id from the path.
func legacyID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, legacyStatus{http.StatusBadRequest, "the id must be a positive number"}
	}
	return id, nil
}

// decodeLegacy reads a JSON body of at most 64 KiB.
func decodeLegacy(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return legacyStatus{http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB"}
		}
		return legacyStatus{http.StatusBadRequest, "the body is not the JSON object this route takes: " + err.Error()}
	}
	return nil
}
