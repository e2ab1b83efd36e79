package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// healthz says the process is alive; it asks nothing of its dependencies.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz says whether the server can do its work: the database answers and
// its schema is the one this binary expects.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	if err := s.Health.Ping(ctx); err != nil {
		checks["database"] = "unreachable: " + err.Error()
		ready = false
	} else {
		checks["database"] = "ok"
		cur, latest, err := s.Health.MigrationVersions(ctx)
		switch {
		case err != nil:
			checks["migrations"] = "unknown: " + err.Error()
			ready = false
		case cur != latest:
			checks["migrations"] = fmt.Sprintf("schema at version %d, this binary needs %d: run wod migrate", cur, latest)
			ready = false
		default:
			checks["migrations"] = fmt.Sprintf("current (version %d)", cur)
		}
	}
	status := "ready"
	w.Header().Set("Content-Type", "application/json")
	if !ready {
		status = "not ready"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": checks})
}
