package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Instrument counts and times the requests next serves, labelled by the
// pattern of the route that served them, which withRoute lets the handler
// record (httpapi.WithRoute): paths carry tokens and ids, patterns do not.
func (m *Metrics) Instrument(next http.Handler, withRoute func(context.Context) (context.Context, func() string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, route := withRoute(r.Context())
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		pattern := route()
		if pattern == "" {
			pattern = "unmatched"
		}
		m.httpRequests.WithLabelValues(pattern, strconv.Itoa(rec.status)).Inc()
		m.httpDuration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// long polls, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
