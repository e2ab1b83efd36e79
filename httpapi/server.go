// Package httpapi serves wod's REST API under /api/v1, its OpenAPI document
// at /api/v1/openapi.json, human documentation at /api/docs and the health
// probes /healthz and /readyz. The API is code-first (huma): the document is
// generated from the handlers, so it cannot drift from them.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/login"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
)

// Health is what the readiness probe asks.
type Health interface {
	Ping(ctx context.Context) error
	MigrationVersions(ctx context.Context) (current, latest int64, err error)
}

// Server is the REST API. Fill its fields, then call Handler.
type Server struct {
	Workshops     wod.WorkshopService
	Locations     wod.LocationService
	Seats         wod.SeatService
	Registrations wod.RegistrationReader
	Registrar     wod.Registrar
	// Operator carries out the operators' actions; the handlers adapt it.
	Operator      *operator.Service
	Agents        wod.AgentService
	AgentAuth     AgentAuth
	Jobs          wod.JobService
	Mails         wod.MailService
	Users         wod.UserService
	Tokens        wod.TokenService
	Sessions      wod.SessionService
	Events        wod.EventService
	Announcements wod.AnnouncementService
	LTI           wod.LTIService
	Webhooks      wod.WebhookService
	Health        Health
	Keys          *secret.Keys
	Clock         wod.Clock
	// AgentStale is how long an agent may be silent and still count as
	// alive (the server's --agent-stale; 0: wod.DefaultAgentStale).
	AgentStale time.Duration
	Logger     *slog.Logger

	// PublicURL is the base URL participants and operators reach the server
	// at, for links (status pages); no trailing slash.
	PublicURL string
	// Version is reported in the OpenAPI document.
	Version string
	// RegistrationRate limits registrations per client address, per minute,
	// with a burst of the same size. Zero disables the limit.
	RegistrationRate int
	// TrustProxy takes the client address from X-Forwarded-For (set it only
	// behind a reverse proxy that overwrites that header).
	TrustProxy bool
	// SessionTTL is how long an operator's login lasts.
	SessionTTL time.Duration
	// LoginConcurrency bounds the password checks that run at once
	// (login.DefaultConcurrency when zero).
	LoginConcurrency int
	// ContentHookSecret is the shared secret of the content repositories'
	// push webhook; empty: the server follows no repository.
	ContentHookSecret string
	// LegacyRoutes also serves the original api-db's routes under /api
	// (--legacy-routes; see legacy.go).
	LegacyRoutes bool
	// Backends takes the callbacks of the original backends that serve
	// legacy locations (the engine); nil: they are refused as at agents'.
	Backends LegacyBackends

	api         huma.API
	limiter     *limiter
	agentTokens agentTokens
	logins      *login.Guard
}

// APIPrefix is where the API lives.
const APIPrefix = "/api/v1"

// Handler builds the routes. The mux also serves the probes, and whatever
// the mount functions add beside the API (the web pages).
func (s *Server) Handler(mounts ...func(*http.ServeMux)) http.Handler {
	if s.SessionTTL == 0 {
		s.SessionTTL = 12 * time.Hour
	}
	s.limiter = newLimiter(s.RegistrationRate, s.Clock)
	s.logins = &login.Guard{Users: s.Users, Sessions: s.Sessions, Events: s.Events, Clock: s.Clock, Logger: s.Logger,
		SessionTTL: s.SessionTTL, Concurrency: s.LoginConcurrency}
	if s.Operator != nil {
		// Checked as they are hashed: an unknown name costs what a
		// password does.
		s.logins.Passwords = s.Operator.Passwords
	}

	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("wod — Workshops-on-Demand API", s.Version)
	cfg.OpenAPIPath = APIPrefix + "/openapi"
	cfg.DocsPath = ""     // our own page at /api/docs: no CDN
	cfg.SchemasPath = ""  // schemas are inline in the document
	cfg.CreateHooks = nil // no $schema links in response bodies
	cfg.Info.Description = "Book hands-on notebook workshops, and run the platform that serves them. " +
		"Operators authenticate with a bearer token (`wod token create`) or a session cookie (`POST /api/v1/login`)."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer":  {Type: "http", Scheme: "bearer", Description: "An API token from `wod token create` or `POST /api/v1/tokens`."},
		"session": {Type: "apiKey", In: "cookie", Name: SessionCookie, Description: "The cookie set by `POST /api/v1/login`."},
		"agent":   {Type: "http", Scheme: "bearer", Description: "A location's agent token (`POST /api/v1/locations/{name}/agent-token`)."},
	}
	cfg.Servers = []*huma.Server{{URL: s.PublicURL}}
	s.api = humago.New(mux, cfg)
	s.api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[wod.Duration](), reflect.TypeFor[string]())
	s.api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[wod.WarmPool](), reflect.TypeFor[warmSchema]())
	s.api.UseMiddleware(s.authenticate)

	s.registerWorkshops()
	s.registerRehearsals()
	s.registerLocations()
	s.registerRegistrations()
	s.registerOperations()
	s.registerPeople()
	s.registerAnnouncements()
	s.registerLTI()
	s.registerWebhooks()
	s.registerAgents()
	s.registerContent()

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/docs", s.docs)
	for _, mount := range mounts {
		mount(mux)
	}
	mux.HandleFunc(APIPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		huma.WriteErr(s.api, humago.NewContext(nil, r, w), http.StatusNotFound,
			"no such API route: "+r.Method+" "+r.URL.Path+"; see "+APIPrefix+"/openapi.json")
	})

	// Browsers must not be tricked into cross-site requests carrying an
	// operator's session cookie. Registration stays open to other origins
	// (an organiser's own portal may post to it); it needs no credentials.
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST " + APIPrefix + "/registrations")
	// A learning platform posts the LTI login and launch from its own site,
	// by design; the launch's state and nonce guard them.
	cop.AddInsecureBypassPattern("POST " + lti.LoginPath)
	cop.AddInsecureBypassPattern("POST " + lti.LaunchPath)
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"status":403,"code":"forbidden","message":"cross-origin request refused: ` +
			`use a bearer token, or the pages of this server"}` + "\n"))
	}))
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		RecordRoute(r)
	})
	protected := cop.Handler(routed)
	if !s.LegacyRoutes {
		return s.withClientIP(protected)
	}
	legacy := s.legacyRoutes()
	return s.withClientIP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isLegacyPath(r.URL.Path) {
			legacy.ServeHTTP(w, r)
			RecordRoute(r)
			return
		}
		protected.ServeHTTP(w, r)
	}))
}

type routeKey struct{}

// WithRoute returns a context in which the handler records the pattern of
// the route that served the request ("GET /api/v1/workshops/{slug}"), and
// a function that reads it once the handler returned: "" when no route
// matched. Metrics label requests by it, never by their path.
func WithRoute(ctx context.Context) (context.Context, func() string) {
	p := new(string)
	return context.WithValue(ctx, routeKey{}, p), func() string { return *p }
}

// RecordRoute records the pattern a ServeMux routed r by, for WithRoute.
func RecordRoute(r *http.Request) {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok {
		*p = r.Pattern
	}
}

// register adds an operation that needs role (or none, for a public one) and
// turns its errors into the API's error responses.
func register[I, O any](s *Server, op huma.Operation, role wod.Role, h func(context.Context, *I) (*O, error)) {
	switch {
	case role == roleAgent:
		op.Security = []map[string][]string{{"agent": {}}}
		op.Metadata = map[string]any{"role": role}
		op.Extensions = map[string]any{"x-wod-role": string(role)}
		op.Errors = append(op.Errors, http.StatusUnauthorized)
		op.Description += "\n\nNeeds the location's **agent** token."
	case role != "":
		op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
		op.Metadata = map[string]any{"role": role}
		op.Extensions = map[string]any{"x-wod-role": string(role)}
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
		op.Description += "\n\nNeeds the **" + string(role) + "** role."
	}
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.apiError(ctx, err)
		}
		return out, nil
	})
}

// body wraps a response body for huma.
type body[T any] struct {
	Body T
}

// list is a page of a listing with its total.
type list[T any] struct {
	Body struct {
		Items []T `json:"items"`
		Total int `json:"total" doc:"How many items match, before Paging"`
	}
}

func newList[T any](items []T, total int) *list[T] {
	l := &list[T]{}
	l.Body.Items = items
	if l.Body.Items == nil {
		l.Body.Items = []T{}
	}
	l.Body.Total = total
	return l
}

// Paging is embedded in listing inputs.
type Paging struct {
	Limit  int `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100)"`
	Offset int `query:"offset" minimum:"0" doc:"Items to skip"`
}

func (p Paging) page() wod.Page { return wod.Page{Limit: p.Limit, Offset: p.Offset} }

// empty is the output of operations that answer 204.
type empty struct{}
