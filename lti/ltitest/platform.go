// Package ltitest is a learning platform for tests: it holds an RSA key,
// serves its public half as a key set on loopback, and signs the id_tokens
// of LTI 1.3 launches.
package ltitest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Platform signs launches, serves its key set, and keeps a grade book:
// a token endpoint (client credentials with a JWT assertion, checked
// against the tool's key set) and a line item that records scores.
type Platform struct {
	t   testing.TB
	srv *httptest.Server
	// Fetches counts the requests for the key set.
	Fetches atomic.Int32

	mu  sync.Mutex
	key jwk.Key
	// ToolJWKS is the tool's public key set, to check its token requests.
	toolJWKS string
	clientID string
	scores   []map[string]any
	now      func() time.Time
	broken   bool
}

// The access token the grade book hands out.
const accessToken = "grade-book-token"

// New starts a platform whose key has the id "key-1"; it stops with the
// test.
func New(t testing.TB) *Platform {
	t.Helper()
	p := &Platform{t: t}
	p.Rotate("key-1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.Fetches.Add(1)
		p.mu.Lock()
		pub, err := p.key.PublicKey()
		broken := p.broken
		p.mu.Unlock()
		if broken {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		set := jwk.NewSet()
		set.AddKey(pub)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /lineitems/1/lineitem/scores", p.score)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// BreakJWKS makes the key set endpoint answer 503 (or again not).
func (p *Platform) BreakJWKS(broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = broken
}

// TokenURL is the grade book's token endpoint.
func (p *Platform) TokenURL() string { return p.srv.URL + "/token" }

// LineItem is the activity's grade-book column (with a query, as Moodle's
// are).
func (p *Platform) LineItem() string { return p.srv.URL + "/lineitems/1/lineitem?type_id=2" }

// TrustTool makes the token endpoint accept the tool registered as
// clientID, whose public key set is served at jwksURL; now is the
// platform's clock, which checks the assertion's times.
func (p *Platform) TrustTool(clientID, jwksURL string, now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clientID, p.toolJWKS, p.now = clientID, jwksURL, now
}

// Scores returns the scores posted so far.
func (p *Platform) Scores() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.scores...)
}

// token checks a client-credentials request as a platform does: the
// assertion signed by the tool's key, issued by its client id, for this
// endpoint, asking for the score scope.
func (p *Platform) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	clientID, toolJWKS, now := p.clientID, p.toolJWKS, p.now
	p.mu.Unlock()
	fail := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": msg})
	}
	if r.FormValue("grant_type") != "client_credentials" ||
		r.FormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
		!strings.Contains(r.FormValue("scope"), "https://purl.imsglobal.org/spec/lti-ags/scope/score") {
		fail("not a client-credentials request for the score scope")
		return
	}
	set, err := jwk.Fetch(r.Context(), toolJWKS)
	if err != nil {
		fail("the tool's key set: " + err.Error())
		return
	}
	tok, err := jwt.Parse([]byte(r.FormValue("client_assertion")), jwt.WithKeySet(set),
		jwt.WithIssuer(clientID), jwt.WithSubject(clientID), jwt.WithAudience(p.TokenURL()), jwt.WithClock(jwt.ClockFunc(now)))
	if err != nil {
		fail("the assertion: " + err.Error())
		return
	}
	if _, ok := tok.JwtID(); !ok {
		fail("the assertion has no jti")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 3600})
}

func (p *Platform) score(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+accessToken || r.Header.Get("Content-Type") != "application/vnd.ims.lis.v1.score+json" ||
		r.URL.Query().Get("type_id") != "2" {
		http.Error(w, "unauthorized or not a score", http.StatusUnauthorized)
		return
	}
	var score map[string]any
	if err := json.NewDecoder(r.Body).Decode(&score); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.scores = append(p.scores, score)
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Rotate gives the platform a new key with the id kid.
func (p *Platform) Rotate(kid string) {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, kid)
	key.Set(jwk.AlgorithmKey, jwa.RS256())
	p.mu.Lock()
	p.key = key
	p.mu.Unlock()
}

// JWKSURL is where the platform serves its public key set.
func (p *Platform) JWKSURL() string { return p.srv.URL + "/jwks" }

// Sign makes an id_token with the claims.
func (p *Platform) Sign(claims map[string]any) string {
	p.t.Helper()
	return p.SignFor(p.t, claims)
}

// SignFor is Sign failing t, not the test that made the platform: a fuzz
// target signs under each input's own t.
func (p *Platform) SignFor(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("claim %s: %v", k, err)
		}
	}
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// LaunchClaims are the claims of a valid resource-link launch of the
// workshop WKSHP-API101 by Ann Smith, ann@uni.example, from deployment
// dep-1, issued now.
func LaunchClaims(issuer, clientID, nonce string, now time.Time) map[string]any {
	return map[string]any{
		"iss":   issuer,
		"aud":   clientID,
		"sub":   "learner-42",
		"iat":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"nonce": nonce,
		"email": "ann@uni.example",
		"name":  "Ann Smith",
		"https://purl.imsglobal.org/spec/lti/claim/message_type":    "LtiResourceLinkRequest",
		"https://purl.imsglobal.org/spec/lti/claim/version":         "1.3.0",
		"https://purl.imsglobal.org/spec/lti/claim/deployment_id":   "dep-1",
		"https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "http://wod.test/lti/launch",
		"https://purl.imsglobal.org/spec/lti/claim/resource_link":   map[string]any{"id": "rl-1"},
		"https://purl.imsglobal.org/spec/lti/claim/custom":          map[string]any{"workshop": "WKSHP-API101"},
		"https://purl.imsglobal.org/spec/lti/claim/context":         map[string]any{"id": "c1", "label": "CS101", "title": "Intro to APIs"},
	}
}

// GradeClaim is the claim of a launch whose activity lets the tool post
// scores to LineItem; add it to LaunchClaims under GradeClaimName.
func (p *Platform) GradeClaim() map[string]any {
	return map[string]any{
		"scope":    []string{"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", "https://purl.imsglobal.org/spec/lti-ags/scope/score"},
		"lineitem": p.LineItem(),
	}
}

// GradeClaimName is the name of the claim GradeClaim makes.
const GradeClaimName = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

// DeepLinkingClaims turn launch claims c into an instructor's request to
// add content to the course, answered at returnURL.
func DeepLinkingClaims(c map[string]any, returnURL string) map[string]any {
	c["https://purl.imsglobal.org/spec/lti/claim/message_type"] = "LtiDeepLinkingRequest"
	c["https://purl.imsglobal.org/spec/lti/claim/roles"] = []string{"http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"}
	c["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = map[string]any{
		"deep_link_return_url": returnURL,
		"accept_types":         []string{"link", "ltiResourceLink"},
		"accept_multiple":      true,
		"data":                 "opaque-42",
	}
	delete(c, "https://purl.imsglobal.org/spec/lti/claim/custom")
	return c
}
