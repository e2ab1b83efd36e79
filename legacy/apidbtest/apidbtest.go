// Package apidbtest serves the part of the original Workshops-on-Demand
// api-db that its backend uses, over real HTTP on loopback, for tests of
// the legacy bridge: JWT-less but with the same login, header, expiry and
// answers (reference §2.5).
package apidbtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod/legacy"
)

// Put is one PUT the backend made.
type Put struct {
	Path   string // e.g. /api/student/12
	Fields map[string]string
}

// Server is a running api-db.
type Server struct {
	URL      string // base of the API, …/api
	User     string
	Password string
	// TokenTTL is how long a token lasts (the original: 180 s).
	TokenTTL time.Duration

	mu        sync.Mutex
	workshops []legacy.Workshop
	students  map[int64]*legacy.Student
	tokens    map[string]time.Time
	puts      []Put
	logins    int
	down      bool
	refused   int
}

// New starts an api-db with the given workshops and students 1..n of
// the base (their global ids base+1…base+n).
func New(t testing.TB, workshops []legacy.Workshop, base, n int) *Server {
	s := &Server{User: "moderator", Password: rand.Text(), TokenTTL: 180 * time.Second,
		workshops: workshops, students: map[int64]*legacy.Student{}, tokens: map[string]time.Time{}}
	for i := 1; i <= n; i++ {
		id := int64(base + i)
		s.students[id] = &legacy.Student{ID: id, Username: "student" + strconv.Itoa(i), Location: "backend.test"}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("GET /api/workshops", s.listWorkshops)
	mux.HandleFunc("GET /api/students", s.auth(s.listStudents))
	mux.HandleFunc("PUT /api/student/{id}", s.auth(s.put))
	mux.HandleFunc("PUT /api/customer/{id}", s.auth(s.put))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/api"
	return s
}

// SetDown makes every route answer 503 (true) or work again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetAssigned marks a student assigned, as a registration does.
func (s *Server) SetAssigned(id int64, assigned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.students[id].Assigned = assigned
}

// Puts returns the PUTs so far.
func (s *Server) Puts() []Put {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Put(nil), s.puts...)
}

// Logins counts the logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Refused counts the requests answered 503 while down.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// ExpireTokens makes every token given so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

func (s *Server) isDown(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.refused++
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return s.down
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.isDown(w) {
		return
	}
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Username != s.User || in.Password != s.Password {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"accessToken": nil, "message": "Invalid Password!"})
		return
	}
	tok := rand.Text()
	s.tokens[tok] = time.Now().Add(s.TokenTTL)
	s.logins++
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "username": in.Username,
		"roles": []string{"ROLE_USER", "ROLE_MODERATOR"}, "accessToken": tok})
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.isDown(w) {
			return
		}
		tok := r.Header.Get("x-access-token")
		if tok == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"message": "No token provided!"})
			return
		}
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		if !ok || time.Now().After(exp) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized!"})
			return
		}
		h(w, r)
	}
}

func (s *Server) listWorkshops(w http.ResponseWriter, r *http.Request) {
	if s.isDown(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.workshops)
}

func (s *Server) listStudents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*legacy.Student, 0, len(s.students))
	for i := int64(1); len(out) < len(s.students); i++ {
		if st, ok := s.students[i]; ok {
			out = append(out, st)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// put takes any fields, as the original's mass assignment does, and
// checks they are strings, as its backend sends them.
func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	var fields map[string]string
	if err := json.NewDecoder(r.Body).Decode(&fields); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad id"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, Put{Path: r.URL.Path, Fields: fields})
	if st, ok := s.students[id]; ok && r.URL.Path == fmt.Sprintf("/api/student/%d", id) {
		if v, ok := fields["assigned"]; ok {
			st.Assigned = v == "true"
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
