package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// LegacyPrefix is where the original api-db's routes live when the server
// runs with --legacy-routes: its Gatsby frontend and its backends' scripts
// call them. wod's own API stays under APIPrefix. They are documented in
// the README ("Moving from the original"), not in wod's OpenAPI document:
// they are a compatibility surface with the original's shapes, not part
// of wod's API.
const LegacyPrefix = "/api/"

// isLegacyPath reports whether the legacy routes serve path: everything
// under /api/ except wod's own API and its documentation page.
func isLegacyPath(path string) bool {
	return strings.HasPrefix(path, LegacyPrefix) && !strings.HasPrefix(path, APIPrefix+"/") &&
		path != APIPrefix && path != "/api/docs"
}

// legacyHandler is a legacy route: p is the caller (nil: nobody).
type legacyHandler func(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error

// legacyRoutes builds the original's routes. Only these exist: the
// original's open signup (POST /api/user) and its unauthenticated
// location edits are deliberately absent, as are the routes its frontend
// and backends never call.
func (s *Server) legacyRoutes() http.Handler {
	mux := http.NewServeMux()
	// A public route takes a token that is no longer valid as nobody, as
	// the original ignores tokens there: the original frontend, once its
	// token code is fixed, sends a participant's expired one with every
	// call, and must still show the catalogue and let them log in again.
	route := func(pattern string, public bool, h legacyHandler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, err := s.legacyPrincipalOf(r)
			if _, bad := err.(legacyStatus); bad && public {
				p, err = nil, nil
			}
			if err == nil {
				err = h(w, r, p)
			}
			if err != nil {
				s.writeLegacyErr(w, r, err)
			}
		})
	}
	moderator := func(h legacyHandler) legacyHandler {
		return func(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
			switch {
			case p == nil:
				return errLegacyNoToken
			case !p.moderator():
				return errLegacyModerator
			}
			return h(w, r, p)
		}
	}
	// who: anyone with a token; each handler checks what the token allows.
	who := func(h legacyHandler) legacyHandler {
		return func(w http.ResponseWriter, r *http.Request, p *legacyPrincipal) error {
			if p == nil {
				return errLegacyNoToken
			}
			return h(w, r, p)
		}
	}
	public := func(pattern string, h legacyHandler) { route(pattern, true, h) }
	handle := func(pattern string, h legacyHandler) { route(pattern, false, h) }
	public("POST /api/login", s.legacyLogin)
	public("GET /api/workshops", s.legacyListWorkshops)
	public("GET /api/workshops/{id}", s.legacyGetWorkshop)
	public("GET /api/special-badges", s.legacyBadges)
	public("GET /api/locations", s.legacyLocations)
	public("POST /api/customer", s.legacyRegister)
	handle("GET /api/customers/{id}", who(s.legacyGetCustomer))
	handle("GET /api/students/{id}", who(s.legacyGetStudent))
	handle("PUT /api/customer/unregister/{id}", who(s.legacyUnregister))
	handle("PUT /api/customer/{id}", moderator(s.legacyPutCustomer))
	handle("PUT /api/student/{id}", moderator(s.legacyPutStudent))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeLegacyJSON(w, http.StatusNotFound, map[string]string{"message": "no such route: " + r.Method + " " + r.URL.Path +
			"; wod serves the original's catalogue, registration, login and backend callback routes only"})
	})
	return withLegacyCORS(mux)
}

// withLegacyCORS lets the original's frontend, served from its own origin,
// call the routes, as the original's cors() did. Any origin may: the
// routes take their credentials from a header, never from cookies, so a
// foreign page gains nothing it could not do with curl.
func withLegacyCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT")
			h.Set("Access-Control-Allow-Headers", "Content-Type, x-access-token, Authorization")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeLegacyErr answers an error: the original's {message} for its
// authentication answers, wod's error body (which has a message, what the
// original frontend shows) for everything else.
func (s *Server) writeLegacyErr(w http.ResponseWriter, r *http.Request, err error) {
	if ls, ok := err.(legacyStatus); ok {
		writeLegacyJSON(w, ls.status, map[string]string{"message": ls.message})
		return
	}
	e := s.apiError(r.Context(), err).(*ErrorBody)
	for k, v := range e.GetHeaders() {
		w.Header().Set(k, v[0])
	}
	writeLegacyJSON(w, e.Status, e)
}

func writeLegacyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
