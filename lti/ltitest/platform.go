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
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Platform signs launches and serves its key set.
type Platform struct {
	t   testing.TB
	key jwk.Key
	srv *httptest.Server
	// Fetches counts the requests for the key set.
	Fetches atomic.Int32
}

// New starts a platform whose key has the id "key-1"; it stops with the
// test.
func New(t testing.TB) *Platform {
	t.Helper()
	p := &Platform{t: t}
	p.Rotate("key-1")
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Fetches.Add(1)
		pub, err := p.key.PublicKey()
		if err != nil {
			t.Error(err)
			return
		}
		set := jwk.NewSet()
		set.AddKey(pub)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
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
	p.key = key
}

// JWKSURL is where the platform serves its public key set.
func (p *Platform) JWKSURL() string { return p.srv.URL + "/jwks" }

// Sign makes an id_token with the claims.
func (p *Platform) Sign(claims map[string]any) string {
	p.t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			p.t.Fatalf("claim %s: %v", k, err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), p.key))
	if err != nil {
		p.t.Fatal(err)
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
