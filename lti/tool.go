// Package lti is wod's side of LTI 1.3 (IMS Learning Tools
// Interoperability): a learning platform such as Moodle or Canvas launches
// a workshop from a course, and the learner arrives registered, without a
// form. Only resource-link launches: a course activity opens one workshop.
//
// The launch is the OIDC third-party-initiated flow of the spec: the
// platform calls Login with the learner's hint; Login keeps a state and a
// nonce and sends the browser to the platform's authorisation endpoint,
// which posts back a signed id_token; Launch verifies it against the
// platform's public keys and returns who the learner is and which workshop
// they want.
package lti

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/wod-dev/wod"
)

// Paths of the tool's endpoints, relative to the server's public URL.
const (
	LoginPath  = "/lti/login"
	LaunchPath = "/lti/launch"
	JWKSPath   = "/lti/jwks"
)

// Claim names of LTI 1.3.
const (
	claimPrefix        = "https://purl.imsglobal.org/spec/lti/claim/"
	messageResource    = "LtiResourceLinkRequest"
	messageDeepLinking = "LtiDeepLinkingRequest"
	supportedVersion   = "1.3.0"
)

// Defaults of a Tool.
const (
	defaultStateTTL = 10 * time.Minute
	// An id_token is used at once; an old one is a replay.
	maxTokenAge = 10 * time.Minute
	clockSkew   = time.Minute
)

// Tool verifies launches for the registered platforms.
type Tool struct {
	Platforms wod.LTIService
	Clock     wod.Clock
	// PublicURL is the server's public URL: the launch's redirect URI is
	// PublicURL + LaunchPath, as registered in the platform.
	PublicURL string
	// HTTP fetches the platforms' key sets (default: a client with a 10 s
	// timeout).
	HTTP *http.Client
	// StateTTL is how long a login waits for its launch (default 10 min).
	StateTTL time.Duration
	// Key signs the tool's requests for grade-book tokens (LoadOrCreateKey);
	// without it completions are not reported.
	Key *rsa.PrivateKey

	keysOnce sync.Once
	keys     *keySets
	httpOnce sync.Once
	http     *http.Client
}

// LoginRequest is a platform's login initiation (GET or POST form).
type LoginRequest struct {
	Issuer        string // iss
	LoginHint     string // login_hint
	TargetLinkURI string // target_link_uri
	MessageHint   string // lti_message_hint, passed back as it came
	ClientID      string // client_id, when the platform sends it
}

// Launch is a verified launch: who the learner is, from which course, and
// the workshop the activity opens.
type Launch struct {
	Platform *wod.LTIPlatform
	Subject  string // the learner's id at the platform
	Email    string
	Name     string
	Course   string // the course's title, or label
	Workshop string
	// LineItem is the activity's grade-book column, when the platform
	// lets the tool post scores to it.
	LineItem string
	// DeepLink is set when the platform asks for a workshop to add to the
	// course (an instructor creating an activity), not to open one: the
	// tool shows the catalogue and answers with DeepLinkResponse.
	DeepLink *DeepLink
}

// Login answers a login initiation with the URL of the platform's
// authorisation endpoint to send the browser to.
func (t *Tool) Login(ctx context.Context, req LoginRequest) (string, error) {
	var v wod.Validation
	v.Check(req.Issuer != "", "iss", "is required")
	v.Check(req.LoginHint != "", "login_hint", "is required")
	v.Check(req.TargetLinkURI != "", "target_link_uri", "is required")
	if err := v.Err("the LTI login initiation is incomplete"); err != nil {
		return "", err
	}
	p, err := t.Platforms.FindLTIPlatform(ctx, req.Issuer, req.ClientID)
	if err != nil {
		return "", err
	}
	state, nonce := randomToken(), randomToken()
	ttl := t.StateTTL
	if ttl <= 0 {
		ttl = defaultStateTTL
	}
	if err := t.Platforms.SaveLTIState(ctx, hashState(state), &wod.LTIState{PlatformID: p.ID, Nonce: nonce,
		Target: req.TargetLinkURI, ExpiresAt: t.Clock.Now().Add(ttl)}); err != nil {
		return "", err
	}
	u, err := url.Parse(p.AuthURL)
	if err != nil {
		return "", fmt.Errorf("LTI platform %s: auth URL: %w", p.Name, err)
	}
	q := u.Query()
	q.Set("scope", "openid")
	q.Set("response_type", "id_token")
	q.Set("response_mode", "form_post")
	q.Set("prompt", "none")
	q.Set("client_id", p.ClientID)
	q.Set("redirect_uri", t.PublicURL+LaunchPath)
	q.Set("login_hint", req.LoginHint)
	if req.MessageHint != "" {
		q.Set("lti_message_hint", req.MessageHint)
	}
	q.Set("state", state)
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Launch verifies the id_token a platform posted, with the state of its
// login: the signature against the platform's key set, the issuer, the
// audience, the times, the nonce, and the LTI claims. Every refusal is an
// EUNAUTHORIZED or EINVALID *wod.Error that says what was wrong.
func (t *Tool) Launch(ctx context.Context, idToken, state string) (*Launch, error) {
	if idToken == "" || state == "" {
		return nil, wod.Errorf(wod.EINVALID, "the launch carries no id_token or state: start it again from the course")
	}
	st, err := t.Platforms.TakeLTIState(ctx, hashState(state))
	if err != nil {
		return nil, err
	}
	if st.Nonce == deepLinkNonce {
		return nil, wod.Errorf(wod.ENOTFOUND, "this launch is unknown: start it again from the course")
	}
	p, err := t.Platforms.FindLTIPlatformByID(ctx, st.PlatformID)
	if err != nil {
		return nil, err
	}
	set, err := t.keySets().get(ctx, p.JWKSURL, keyID(idToken))
	if err != nil {
		return nil, wod.Errorf(wod.EUNAVAILABLE, "%s: %v", p.Name, err)
	}
	now := t.Clock.Now()
	tok, err := jwt.Parse([]byte(idToken),
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)),
		jwt.WithIssuer(p.Issuer), jwt.WithAudience(p.ClientID),
		jwt.WithAcceptableSkew(clockSkew), jwt.WithClock(jwt.ClockFunc(t.Clock.Now)))
	if err != nil {
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the launch from %s does not verify: %v", p.Name, err)
	}
	if iat, ok := tok.IssuedAt(); !ok || now.Sub(iat) > maxTokenAge+clockSkew {
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the launch from %s is too old: start it again from the course", p.Name)
	}
	c, err := readClaims(idToken)
	if err != nil {
		return nil, err
	}
	aud, _ := tok.Audience()
	switch {
	case c.Nonce != st.Nonce:
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the launch from %s answers another login (nonce)", p.Name)
	case len(aud) > 1 && c.AZP != p.ClientID:
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the launch from %s is meant for another tool (azp)", p.Name)
	case c.Version != supportedVersion:
		return nil, wod.Errorf(wod.EINVALID, "LTI version %q: wod speaks LTI %s", c.Version, supportedVersion)
	case c.MessageType != messageResource && c.MessageType != messageDeepLinking:
		return nil, wod.Errorf(wod.EINVALID, "LTI message %q: wod opens resource links (%s) and picks workshops (%s)",
			c.MessageType, messageResource, messageDeepLinking)
	case !p.AcceptsDeployment(c.DeploymentID):
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the deployment %q of %s is not accepted", c.DeploymentID, p.Name)
	case c.MessageType == messageDeepLinking:
		return t.deepLinking(ctx, p, c)
	case strings.TrimSpace(c.Subject) == "":
		// The sub is how the learner's next launch finds their registration
		// again; an anonymous launch could return to anyone's.
		return nil, wod.Errorf(wod.EINVALID, "%s did not say who the learner is (no sub): "+
			"wod opens workshops for known learners only", p.Name)
	case c.Email == "":
		return nil, wod.Errorf(wod.EINVALID, "%s did not send the learner's e-mail address: "+
			"set the tool's privacy settings to share it (wod registers learners by e-mail)", p.Name)
	}
	l := &Launch{Platform: p, Subject: c.Subject, Email: c.Email, Name: c.name(), Course: c.Context.Title}
	if slices.Contains(c.Grades.Scope, scoreScope) {
		l.LineItem = c.Grades.LineItem
	}
	if l.Course == "" {
		l.Course = c.Context.Label
	}
	if l.Workshop = workshopOf(c, st.Target); l.Workshop == "" {
		return nil, wod.Errorf(wod.EINVALID, "the activity names no workshop: give it the custom parameter "+
			"workshop=WKSHP-… or the target link %s%s?workshop=WKSHP-…", t.PublicURL, LaunchPath)
	}
	return l, nil
}

func (t *Tool) keySets() *keySets {
	t.keysOnce.Do(func() { t.keys = &keySets{client: t.client(), now: t.Clock.Now} })
	return t.keys
}

// claims are the id_token's claims wod reads.
type claims struct {
	Subject      string         `json:"sub"`
	Email        string         `json:"email"`
	Name         string         `json:"name"`
	GivenName    string         `json:"given_name"`
	FamilyName   string         `json:"family_name"`
	Nonce        string         `json:"nonce"`
	AZP          string         `json:"azp"`
	MessageType  string         `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
	Version      string         `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
	DeploymentID string         `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
	TargetLink   string         `json:"https://purl.imsglobal.org/spec/lti/claim/target_link_uri"`
	Custom       map[string]any `json:"https://purl.imsglobal.org/spec/lti/claim/custom"`
	Context      struct {
		Label string `json:"label"`
		Title string `json:"title"`
	} `json:"https://purl.imsglobal.org/spec/lti/claim/context"`
	Grades struct {
		Scope    []string `json:"scope"`
		LineItem string   `json:"lineitem"`
	} `json:"https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"`
	Roles       []string `json:"https://purl.imsglobal.org/spec/lti/claim/roles"`
	DeepLinking struct {
		ReturnURL      string   `json:"deep_link_return_url"`
		AcceptTypes    []string `json:"accept_types"`
		AcceptMultiple bool     `json:"accept_multiple"`
		Data           string   `json:"data"`
	} `json:"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"`
}

// readClaims decodes the payload of a token already verified.
func readClaims(token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, wod.Errorf(wod.EINVALID, "the id_token is not a compact JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, wod.Errorf(wod.EINVALID, "the id_token's payload: %v", err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, wod.Errorf(wod.EINVALID, "the id_token's claims: %v", err)
	}
	return &c, nil
}

func (c *claims) name() string {
	if n := strings.TrimSpace(c.Name); n != "" {
		return n
	}
	return strings.TrimSpace(c.GivenName + " " + c.FamilyName)
}

// workshopOf finds the workshop a launch opens: the activity's custom
// parameter "workshop", else the target link's ?workshop= or its last
// path segment when it names a WKSHP-… folder.
func workshopOf(c *claims, loginTarget string) string {
	if w, ok := c.Custom["workshop"].(string); ok && strings.TrimSpace(w) != "" {
		return strings.TrimSpace(w)
	}
	for _, target := range []string{c.TargetLink, loginTarget} {
		u, err := url.Parse(target)
		if err != nil {
			continue
		}
		if w := u.Query().Get("workshop"); w != "" {
			return w
		}
		if last := path.Base(u.Path); wod.ValidSlug(last) && strings.HasPrefix(last, "WKSHP-") {
			return last
		}
	}
	return ""
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashState(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}
