package lti

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/wod-dev/wod"
)

// DeepLinkPath is where the catalogue shown to an instructor posts the
// workshop they picked.
const DeepLinkPath = "/lti/deeplink"

// DeepLink is an instructor's request to add a workshop to their course.
// Token carries it to DeepLinkResponse, once the instructor picked (it is
// single-use and expires with the login states).
type DeepLink struct {
	Token          string
	AcceptMultiple bool
	// ReturnOrigin is the platform's origin, where the answer is posted and
	// which may frame the picker.
	ReturnOrigin string
}

// deepLinkState is what DeepLinkResponse needs of the request, kept as the
// state's target.
type deepLinkState struct {
	ReturnURL    string `json:"return_url"`
	Data         string `json:"data,omitempty"`
	DeploymentID string `json:"deployment_id"`
}

// deepLinkNonce marks the states that carry a deep-linking request, which
// only DeepLinkResponse takes (and a launch never does).
const deepLinkNonce = "deep-link"

// instructorRoles are the LTI roles that may add content to a course.
var instructorRoles = []string{"#Instructor", "#ContentDeveloper", "#Administrator", "#TeachingAssistant"}

func isInstructor(roles []string) bool {
	for _, r := range roles {
		for _, suffix := range instructorRoles {
			if strings.HasSuffix(r, suffix) {
				return true
			}
		}
	}
	return false
}

// deepLinking checks a verified deep-linking request and keeps what the
// answer needs.
func (t *Tool) deepLinking(ctx context.Context, p *wod.LTIPlatform, c *claims) (*Launch, error) {
	dl := c.DeepLinking
	u, err := url.Parse(dl.ReturnURL)
	switch {
	case !isInstructor(c.Roles):
		return nil, wod.Errorf(wod.EFORBIDDEN, "only a course's instructors add workshops to it")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, wod.Errorf(wod.EINVALID, "%s sent no valid deep_link_return_url", p.Name)
	case len(dl.AcceptTypes) > 0 && !slices.Contains(dl.AcceptTypes, "ltiResourceLink"):
		return nil, wod.Errorf(wod.EINVALID, "%s accepts %v here, not the resource links wod adds", p.Name, dl.AcceptTypes)
	}
	target, _ := json.Marshal(deepLinkState{ReturnURL: dl.ReturnURL, Data: dl.Data, DeploymentID: c.DeploymentID})
	token := randomToken()
	ttl := t.StateTTL
	if ttl <= 0 {
		ttl = defaultStateTTL
	}
	// An instructor may browse the catalogue a while before picking.
	if err := t.Platforms.SaveLTIState(ctx, hashState(token), &wod.LTIState{PlatformID: p.ID, Nonce: deepLinkNonce,
		Target: string(target), ExpiresAt: t.Clock.Now().Add(3 * ttl)}); err != nil {
		return nil, err
	}
	return &Launch{Platform: p, Subject: c.Subject, Email: c.Email, Name: c.name(), Course: c.Context.Title,
		DeepLink: &DeepLink{Token: token, AcceptMultiple: dl.AcceptMultiple, ReturnOrigin: u.Scheme + "://" + u.Host}}, nil
}

// Pick is a workshop an instructor adds to their course.
type Pick struct {
	Workshop, Title, Text string
}

// DeepLinkResponse answers a deep-linking request with the workshops
// picked: the URL to post to and the signed JWT to post there (form field
// "JWT"). Each becomes an LTI resource link that launches its workshop.
func (t *Tool) DeepLinkResponse(ctx context.Context, token string, picks []Pick) (returnURL, signed string, err error) {
	if len(picks) == 0 {
		return "", "", wod.Errorf(wod.EINVALID, "pick a workshop")
	}
	st, err := t.Platforms.TakeLTIState(ctx, hashState(token))
	if err != nil || st.Nonce != deepLinkNonce {
		return "", "", wod.Errorf(wod.ENOTFOUND, "this choice has expired: add the activity again from the course")
	}
	var req deepLinkState
	if err := json.Unmarshal([]byte(st.Target), &req); err != nil {
		return "", "", err
	}
	p, err := t.Platforms.FindLTIPlatformByID(ctx, st.PlatformID)
	if err != nil {
		return "", "", err
	}
	key, err := t.signingKey()
	if err != nil {
		return "", "", wod.Errorf(wod.EUNAVAILABLE, "this server cannot sign its answer: %v", err)
	}
	items := make([]map[string]any, 0, len(picks))
	for _, pk := range picks {
		items = append(items, map[string]any{
			"type":   "ltiResourceLink",
			"title":  pk.Title,
			"text":   pk.Text,
			"url":    t.PublicURL + LaunchPath + "?workshop=" + url.QueryEscape(pk.Workshop),
			"custom": map[string]string{"workshop": pk.Workshop},
		})
	}
	now := t.Clock.Now()
	b := jwt.NewBuilder().Issuer(p.ClientID).Audience([]string{p.Issuer}).IssuedAt(now).
		Expiration(now.Add(5*time.Minute)).
		Claim("nonce", randomToken()).
		Claim("azp", p.ClientID).
		Claim(claimPrefix+"message_type", "LtiDeepLinkingResponse").
		Claim(claimPrefix+"version", supportedVersion).
		Claim(claimPrefix+"deployment_id", req.DeploymentID).
		Claim("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", items)
	if req.Data != "" {
		b = b.Claim("https://purl.imsglobal.org/spec/lti-dl/claim/data", req.Data)
	}
	tok, err := b.Build()
	if err != nil {
		return "", "", err
	}
	out, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), key))
	if err != nil {
		return "", "", err
	}
	return req.ReturnURL, string(out), nil
}
