package wod

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// LTIPlatform is a learning platform (Moodle, Canvas, …) registered to
// launch workshops with LTI 1.3: the learner clicks an activity in their
// course and lands, already registered, on the workshop's status page.
type LTIPlatform struct {
	ID   int64  `json:"id"`
	Name string `json:"name" doc:"The operators' name for it, e.g. moodle-cs101"`
	// Issuer and ClientID identify the platform and wod's registration in
	// it, as the platform shows them.
	Issuer   string `json:"issuer" doc:"The platform's issuer (iss), e.g. https://moodle.example.edu"`
	ClientID string `json:"client_id" doc:"The client id the platform gave wod"`
	// DeploymentIDs, when set, are the only deployments accepted.
	DeploymentIDs []string `json:"deployment_ids,omitempty" doc:"Accepted deployment ids; empty accepts any"`
	AuthURL       string   `json:"auth_url" doc:"The platform's OIDC authorisation endpoint, e.g. https://moodle.example.edu/mod/lti/auth.php"`
	JWKSURL       string   `json:"jwks_url" doc:"The platform's public key set, e.g. https://moodle.example.edu/mod/lti/certs.php"`
	// TokenURL is where wod gets an access token to post grades; empty,
	// completions are not reported to the platform's gradebook.
	TokenURL  string    `json:"token_url,omitempty" doc:"The platform's access token URL, for grades, e.g. https://moodle.example.edu/mod/lti/token.php"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the platform's fields.
func (p *LTIPlatform) Validate() error {
	var v Validation
	v.Check(locationNamePattern.MatchString(p.Name), "name", "must be 1-63 lower-case letters, digits, dots or dashes")
	v.Check(strings.TrimSpace(p.Issuer) != "" && len(p.Issuer) <= 500, "issuer", "must be the platform's issuer, as it sends it")
	v.Check(strings.TrimSpace(p.ClientID) != "" && len(p.ClientID) <= 500, "client_id", "must be the client id the platform gave")
	urls := []struct{ name, value string }{{"auth_url", p.AuthURL}, {"jwks_url", p.JWKSURL}}
	if p.TokenURL != "" {
		urls = append(urls, struct{ name, value string }{"token_url", p.TokenURL})
	}
	for _, f := range urls {
		u, err := url.Parse(f.value)
		v.Check(err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Fragment == "",
			f.name, "must be an http or https URL")
	}
	for _, d := range p.DeploymentIDs {
		v.Check(d != "" && !strings.Contains(d, ","), "deployment_ids", "must be non-empty ids without commas")
	}
	return v.Err("the LTI platform is not valid")
}

// AcceptsDeployment reports whether a launch from the deployment is
// accepted.
func (p *LTIPlatform) AcceptsDeployment(id string) bool {
	if len(p.DeploymentIDs) == 0 {
		return id != ""
	}
	for _, d := range p.DeploymentIDs {
		if d == id {
			return true
		}
	}
	return false
}

// LTIState is what a launch's login step leaves for its second step: the
// platform, the nonce the id_token must carry, and the requested target.
type LTIState struct {
	PlatformID int64
	Nonce      string
	Target     string
	ExpiresAt  time.Time
}

// LTILaunch is who launched a registration from a learning platform and
// where it reports its completion: the platform and the learner's id there
// (Subject, the id_token's sub), by which a later launch finds the
// registration again, and the activity's gradebook column (LineItem; empty
// when the activity has no grade book).
type LTILaunch struct {
	RegistrationID int64
	PlatformID     int64
	Subject        string
	LineItem       string
}

// LTIService keeps the platforms, the launches' login states, and the
// launched registrations' gradebooks.
type LTIService interface {
	FindLTIPlatforms(ctx context.Context) ([]*LTIPlatform, error)
	// FindLTIPlatform finds the platform by issuer, and client id unless
	// it is empty (then the issuer must name one platform only).
	FindLTIPlatform(ctx context.Context, issuer, clientID string) (*LTIPlatform, error)
	FindLTIPlatformByID(ctx context.Context, id int64) (*LTIPlatform, error)
	CreateLTIPlatform(ctx context.Context, p *LTIPlatform) error
	DeleteLTIPlatform(ctx context.Context, id int64) error
	// SaveLTIState keeps a state, under the hash of its secret.
	SaveLTIState(ctx context.Context, hash []byte, s *LTIState) error
	// TakeLTIState returns the state and deletes it: a state serves one
	// launch. An unknown or expired one is ENOTFOUND.
	TakeLTIState(ctx context.Context, hash []byte) (*LTIState, error)
	// SaveLTILaunch records (or replaces) a registration's launch.
	SaveLTILaunch(ctx context.Context, l *LTILaunch) error
	// FindLTILaunch finds a registration's launch; ENOTFOUND if it was
	// not launched from a platform.
	FindLTILaunch(ctx context.Context, registrationID int64) (*LTILaunch, error)
	// FindLTIRegistration finds the live registration that the platform's
	// learner subject launched; ENOTFOUND if they hold none. A returning
	// learner is found this way and never by e-mail: the address is
	// whatever the learner typed in their profile, at any platform.
	FindLTIRegistration(ctx context.Context, platformID int64, subject string) (*Registration, error)
}
