package lti

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/wod-dev/wod"
)

// LTI Assignment and Grade Services: the scope that posts scores, and the
// media type of a score.
const (
	scoreScope     = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
	scoreMediaType = "application/vnd.ims.lis.v1.score+json"
)

// WantsGrade reports whether the registration was launched from a platform
// whose grade book takes its completion: the launch named a line item, the
// platform has a token URL, and the tool a key.
func (t *Tool) WantsGrade(ctx context.Context, registrationID int64) (bool, error) {
	if t.Key == nil {
		return false, nil
	}
	l, err := t.Platforms.FindLTILaunch(ctx, registrationID)
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		return false, nil
	}
	if err != nil || l.LineItem == "" {
		return false, err
	}
	p, err := t.Platforms.FindLTIPlatformByID(ctx, l.PlatformID)
	if wod.ErrorCode(err) == wod.ENOTFOUND {
		return false, nil // the platform was removed
	}
	if err != nil {
		return false, err
	}
	return p.TokenURL != "", nil
}

// ReportGrade posts a finished registration's completion to its line item
// as the learner's score out of 100: an access token from the platform
// (client credentials, with a JWT signed by the tool's key), then the score.
// A platform that refuses says why in the error.
func (t *Tool) ReportGrade(ctx context.Context, r *wod.Registration) error {
	if r.Completion == nil {
		return nil
	}
	l, err := t.Platforms.FindLTILaunch(ctx, r.ID)
	if err != nil {
		return err
	}
	p, err := t.Platforms.FindLTIPlatformByID(ctx, l.PlatformID)
	if err != nil {
		return err
	}
	token, err := t.accessToken(ctx, p)
	if err != nil {
		return err
	}
	u, err := url.Parse(l.LineItem)
	if err != nil {
		return fmt.Errorf("line item %q: %w", l.LineItem, err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/scores"
	score, _ := json.Marshal(map[string]any{
		"userId":           l.Subject,
		"scoreGiven":       *r.Completion,
		"scoreMaximum":     100,
		"activityProgress": "Completed",
		"gradingProgress":  "FullyGraded",
		"timestamp":        t.Clock.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"comment":          fmt.Sprintf("%d %% of the workshop's code cells run", *r.Completion),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(score))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", scoreMediaType)
	if _, err := t.do(req, p.Name+" score"); err != nil {
		return err
	}
	return nil
}

// accessToken asks the platform for a token that may post scores.
func (t *Tool) accessToken(ctx context.Context, p *wod.LTIPlatform) (string, error) {
	key, err := t.signingKey()
	if err != nil {
		return "", err
	}
	now := t.Clock.Now()
	assertion, err := jwt.NewBuilder().Issuer(p.ClientID).Subject(p.ClientID).Audience([]string{p.TokenURL}).
		IssuedAt(now).Expiration(now.Add(5 * time.Minute)).JwtID(randomToken()).Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(assertion, jwt.WithKey(jwa.RS256(), key))
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {string(signed)},
		"scope":                 {scoreScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := t.do(req, p.Name+" token")
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("%s token: no access_token in the answer", p.Name)
	}
	return tok.AccessToken, nil
}

// do sends a request to a platform and returns the body of a 2xx answer.
func (t *Tool) do(req *http.Request, what string) ([]byte, error) {
	res, err := t.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s: %s", what, res.Status, bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	return body, nil
}

// client is HTTP, or a client with a 10 s timeout.
func (t *Tool) client() *http.Client {
	t.httpOnce.Do(func() {
		t.http = t.HTTP
		if t.http == nil {
			t.http = &http.Client{Timeout: 10 * time.Second}
		}
	})
	return t.http
}
