package wod

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Location is a JupyterHub host with its agent: where seats live.
type Location struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// HubURL is the hub's public address, as participants reach it.
	HubURL string `json:"hub_url"`
	// BaseStudentID offsets this location's local student numbers into a
	// global id, as the original's basestdid does for several backends.
	BaseStudentID int `json:"base_student_id"`
	// Students is how many student accounts (seats) the location has:
	// student1..studentN.
	Students int `json:"students"`
	// Kind says what serves the location: a wod agent (the default) or an
	// original wod-backend driven by command mails (LocationLegacy).
	Kind LocationKind `json:"kind" enum:"agent,legacy"`
	// BackendEmail is where a legacy location's command mails go (the
	// original's WODUSER@backend), and BackendSMTP the backend's Postfix
	// (host:port; default the address's domain at port 10025, the
	// original's WODPOSTPORT). Empty at an agent's location.
	BackendEmail string `json:"backend_email,omitempty"`
	BackendSMTP  string `json:"backend_smtp,omitempty"`

	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	// AgentState is derived by the server from LastHeartbeat and its
	// --agent-stale: alive, silent (no new participants; pending creates
	// move elsewhere) or unknown (never heard from).
	AgentState string `json:"agent_state,omitempty" enum:"alive,silent,unknown"`
	Health     string `json:"health,omitempty"`
	// Kernels are the Jupyter kernels the agent last found on the hub's
	// host, sorted; nil when it never said (unknown, not none).
	Kernels []string `json:"kernels"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HasKernel says whether the location's hub has the named kernel
// (kernelspec names are case-insensitive); known is false when its agent
// never reported its kernels: then nobody knows, which is not "missing".
func (l *Location) HasKernel(name string) (has, known bool) {
	if l.Kernels == nil {
		return false, false
	}
	for _, k := range l.Kernels {
		if strings.EqualFold(k, name) {
			return true, true
		}
	}
	return false, true
}

// LocationKind says what serves a location's seats.
type LocationKind string

// Location kinds.
const (
	// LocationAgent: a wod agent claims the location's jobs.
	LocationAgent LocationKind = "agent"
	// LocationLegacy: the server sends the original's command mails to an
	// original wod-backend, which reports on the legacy REST routes.
	LocationLegacy LocationKind = "legacy"
)

// DefaultBackendSMTPPort is the original backend's Postfix port
// (WODPOSTPORT).
const DefaultBackendSMTPPort = "10025"

// Legacy reports whether an original backend serves the location.
func (l *Location) Legacy() bool { return l.Kind == LocationLegacy }

// BackendAddr is the host:port a legacy location's command mails are sent
// to.
func (l *Location) BackendAddr() string {
	if a := strings.TrimSpace(l.BackendSMTP); a != "" {
		if _, _, err := net.SplitHostPort(a); err == nil {
			return a
		}
		return net.JoinHostPort(a, DefaultBackendSMTPPort)
	}
	_, domain, _ := strings.Cut(l.BackendEmail, "@")
	return net.JoinHostPort(domain, DefaultBackendSMTPPort)
}

var backendEmailPattern = regexp.MustCompile(`^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$`)

// MaxStudentsPerLocation bounds the seats of one location; the original ran
// up to about 2000 students on one backend.
const MaxStudentsPerLocation = 10000

var locationNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)

// Normalize trims the hub URL of surrounding space and trailing slashes,
// so that the paths appended to it (LoginURL, LaunchURL) never double a
// slash. The store applies it whenever a location is saved.
func (l *Location) Normalize() {
	l.HubURL = normalizeHubURL(l.HubURL)
	l.BackendEmail, l.BackendSMTP = strings.TrimSpace(l.BackendEmail), strings.TrimSpace(l.BackendSMTP)
	if l.Kind == "" {
		l.Kind = LocationAgent
	}
}

func normalizeHubURL(u string) string {
	return strings.TrimRight(strings.TrimSpace(u), "/")
}

// LoginURL is the hub's login page, or "" when the location has no hub URL.
func (l *Location) LoginURL() string {
	hub := normalizeHubURL(l.HubURL)
	if hub == "" {
		return ""
	}
	return hub + "/hub/login"
}

// LaunchURL is the link that logs the student in and opens their server:
// the login page, sent on to the user's server. "" without a hub URL or a
// user name.
func (l *Location) LaunchURL(username string) string {
	login := l.LoginURL()
	if login == "" || username == "" {
		return ""
	}
	return login + "?next=" + url.QueryEscape("/hub/user/"+username+"/")
}

// StudentID is the global id of the location's seat number n: the
// location's base plus n, as the original's basestdid numbers students
// across backends.
func (l *Location) StudentID(n int) int { return l.BaseStudentID + n }

// Validate checks the location's own rules.
func (l *Location) Validate() error {
	var v Validation
	v.Check(locationNamePattern.MatchString(l.Name), "name", "must be 1-63 lower-case letters, digits, dots or dashes")
	if l.HubURL != "" {
		u, err := url.Parse(l.HubURL)
		v.Check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "hub_url", "must be an http or https URL")
	}
	v.Check(l.BaseStudentID >= 0, "base_student_id", "must not be negative")
	v.Check(l.Students >= 1 && l.Students <= MaxStudentsPerLocation, "students", "must be between 1 and %d", MaxStudentsPerLocation)
	v.Check(l.Kind == LocationAgent || l.Kind == LocationLegacy, "kind", "must be agent or legacy")
	if l.Kind == LocationLegacy {
		// The address goes into an SMTP envelope: nothing but an address.
		v.Check(backendEmailPattern.MatchString(l.BackendEmail), "backend_email",
			"is required for a legacy location: the backend's command mail address, e.g. wod@backend.example.org")
		if l.BackendSMTP != "" {
			host, port, err := net.SplitHostPort(l.BackendAddr())
			v.Check(err == nil && host != "" && port != "" && !strings.ContainsAny(l.BackendSMTP, " /\r\n"),
				"backend_smtp", "must be host or host:port")
		}
	} else {
		v.Check(l.BackendEmail == "" && l.BackendSMTP == "", "backend_email", "is only for a legacy location")
	}
	return v.Err("the location is not valid")
}

// LocationUpdate changes a location; nil fields are left alone. Growing
// Students adds free seats; shrinking it is refused while a seat above the
// new count is in use.
type LocationUpdate struct {
	HubURL        *string
	BaseStudentID *int
	Students      *int
	Kind          *LocationKind
	BackendEmail  *string
	BackendSMTP   *string
}

// LocationService manages locations and, with them, their seats.
type LocationService interface {
	FindLocations(ctx context.Context) ([]*Location, error)
	// FindLocation returns the named location, or ENOTFOUND.
	FindLocation(ctx context.Context, name string) (*Location, error)
	// CreateLocation adds a location with its seats, all free.
	CreateLocation(ctx context.Context, l *Location) error
	UpdateLocation(ctx context.Context, name string, upd LocationUpdate) (*Location, error)
	// DeleteLocation removes a location that no workshop uses and no seat is
	// taken at.
	DeleteLocation(ctx context.Context, name string) error
}
