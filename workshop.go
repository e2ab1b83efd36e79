package wod

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SessionType says how a workshop's content is rendered: as a guided workshop
// or as a challenge (the same notebooks with MODEWS=CHLG).
type SessionType string

// Session types.
const (
	SessionWorkshop  SessionType = "workshop"
	SessionChallenge SessionType = "challenge"
)

// ApplianceMode says whether a workshop drives external appliances.
type ApplianceMode string

// Appliance modes.
const (
	ApplianceNone  ApplianceMode = "none"
	ApplianceMono  ApplianceMode = "mono"
	ApplianceMulti ApplianceMode = "multi"
)

// Workshop is one entry of the catalogue, backed by a content folder (its Slug).
type Workshop struct {
	ID          int64    `json:"id"`
	Slug        string   `json:"slug"` // the content folder name, e.g. WKSHP-API101
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Categories  []string `json:"categories"`
	Duration    Duration `json:"duration"`
	// Capacity is the most seats the workshop may hold at once, across all
	// its locations (each location's seat range bounds it there). What is free is
	// always derived from the seats, never kept as a counter.
	Capacity int `json:"capacity"`
	// SeatMin..SeatMax is the range of local student numbers at the location.
	SeatMin int `json:"seat_min"`
	SeatMax int `json:"seat_max"`
	// LocationID and Location are the first of the workshop's locations,
	// as before a workshop could have several.
	LocationID int64  `json:"location_id"`
	Location   string `json:"location"`
	// LocationIDs and Locations are every location the workshop is offered
	// at, the first one first. Placement picks among them (see
	// DESIGN.md, "One workshop, several hubs"): Capacity bounds the
	// participants across all of them and the seat range bounds each one.
	LocationIDs []int64 `json:"location_ids"`
	// Locations are the locations' names, each with ":MIN-MAX" when the
	// location uses its own seat range for the workshop (LocationRanges).
	Locations []string `json:"locations"`
	// LocationRanges, beside LocationIDs, are the seat ranges of the
	// locations that use their own; a zero one is the workshop's range.
	LocationRanges []SeatRange `json:"-"`

	Active        bool          `json:"active"`
	Beta          bool          `json:"beta"`
	Priority      int           `json:"priority"`
	Reset         bool          `json:"reset"`
	LDAP          bool          `json:"ldap"`
	VarPass       bool          `json:"varpass"`
	Compile       []string      `json:"compile"`
	Appliance     ApplianceMode `json:"appliance"`
	SessionType   SessionType   `json:"session_type"`
	Presenter     string        `json:"presenter"`
	PresenterRole string        `json:"presenter_role"`
	Avatar        string        `json:"avatar"`
	Image         string        `json:"image"`
	BadgeImage    string        `json:"badge_image"`
	ReplayID      int           `json:"replay_id"`
	ReplayLink    string        `json:"replay_link"`
	Prerequisite  string        `json:"prerequisite"`
	// Limits are what each student of the workshop may use (wod.yml's
	// memory, cpus, tasks and disk); unset ones are the site's defaults.
	Limits Limits `json:"limits"`
	// Warm is how many seats the agent keeps prepared for the workshop
	// before anyone registers (warm.go): a number, or WarmAuto.
	Warm WarmPool `json:"warm"`
	// Extend is how much time a participant may add to their session,
	// once, while nobody waits for a seat (0: they may not).
	Extend Duration `json:"extend"`
	// Opens and Closes are when the workshop takes registrations (dates.go):
	// from Opens, until Closes; zero is no bound. Both are UTC, to the second.
	Opens  time.Time `json:"opens,omitzero" doc:"When the workshop opens for registration (UTC); before it, registrations and the waiting line are refused. Absent: no opening time"`
	Closes time.Time `json:"closes,omitzero" doc:"When the workshop closes for registration (UTC): from then on it is refused, the workshop leaves the catalogue and waits end; running sessions are not cut. Absent: no closing time"`

	// ContentVersion identifies the content the workshop was last imported
	// from (a digest of its folders); warm seats made from another version
	// are rebuilt.
	ContentVersion string `json:"content_version,omitempty"`
	// ContentDir is where the workshop's folder was imported from.
	ContentDir string `json:"content_dir"`
	// Overrides lists the fields an operator changed at runtime; a re-import
	// of the content leaves them alone.
	Overrides []string `json:"overrides"`

	// SeatsFree is derived when the workshop is read: how many more
	// registrations it can take now (capacity and free seats in range).
	SeatsFree int `json:"seats_free"`
	// Popular is derived: among the most registered-for workshops.
	Popular bool `json:"popular"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var slugPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidSlug reports whether s can name a workshop (and a content folder).
func ValidSlug(s string) bool { return slugPattern.MatchString(s) }

// Validate checks the workshop's own rules (not those that need the store,
// such as whether its seat range fits its location).
func (w *Workshop) Validate() error {
	var v Validation
	v.Check(ValidSlug(w.Slug), "slug", "must be 1-100 letters, digits, dots, dashes or underscores, such as WKSHP-API101")
	v.Check(strings.TrimSpace(w.Title) != "", "title", "is required")
	v.Check(len(w.Title) <= 200, "title", "is longer than 200 characters")
	v.Check(w.Duration > 0, "duration", "must be positive")
	v.Check(w.Duration.Std() <= 7*24*time.Hour, "duration", "must be at most a week")
	v.Check(w.Capacity >= 0, "capacity", "must not be negative")
	v.Check(w.Warm >= WarmAuto && w.Warm <= MaxWarm, "warm", "must be auto or a number of seats from 0 to %d", MaxWarm)
	v.Check(w.SeatMin >= 1, "seat_min", "must be at least 1")
	v.Check(w.SeatMax >= w.SeatMin, "seat_max", "must not be below seat_min (%d)", w.SeatMin)
	v.Check(slices.Contains([]ApplianceMode{ApplianceNone, ApplianceMono, ApplianceMulti}, w.Appliance),
		"appliance", "must be none, mono or multi")
	v.Check(w.SessionType == SessionWorkshop || w.SessionType == SessionChallenge,
		"session_type", "must be workshop or challenge")
	v.Check(w.Extend >= 0 && w.Extend.Std() <= MaxExtension, "extend", "must be from 0 (none) to %s", MaxExtension)
	w.validateDates(&v)
	w.Limits.Validate(&v, "limits.")
	v.Check(len(w.LocationIDs) <= MaxWorkshopLocations, "locations", "must be at most %d", MaxWorkshopLocations)
	for i, id := range w.LocationIDs {
		if slices.Contains(w.LocationIDs[:i], id) {
			v.Add("locations", "must name each location once")
			break
		}
	}
	for _, r := range w.LocationRanges {
		v.Check(r.IsZero() || (r.Min >= 1 && r.Max >= r.Min), "locations", "a location's seat range must be MIN-MAX with 1 <= MIN <= MAX")
	}
	return v.Err("the workshop is not valid")
}

// WorkshopFields names the fields of a workshop that content and operators
// both set, in the spelling used by Overrides and the API.
var WorkshopFields = []string{
	"title", "description", "categories", "duration", "capacity", "seat_min", "seat_max",
	"active", "beta", "priority", "reset", "ldap", "varpass", "compile", "appliance",
	"session_type", "presenter", "presenter_role", "avatar", "image", "badge_image",
	"replay_id", "replay_link", "prerequisite", "limits", "warm", "extend",
	"opens", "closes",
}

// WorkshopFilter narrows a workshop listing. Nil fields do not filter.
type WorkshopFilter struct {
	Slug       *string
	Active     *bool
	LocationID *int64
	Category   *string
	// OfferedAt keeps the workshops not closed at that time (those yet to
	// open included): what a catalogue offers.
	OfferedAt *time.Time
	Page
}

// WorkshopUpdate is an operator's change to a workshop. Nil fields are left
// alone; every set field is recorded in the workshop's Overrides.
type WorkshopUpdate struct {
	Title       *string
	Description *string
	Categories  *[]string
	Duration    *Duration
	Capacity    *int
	SeatMin     *int
	SeatMax     *int
	LocationID  *int64
	// LocationIDs replaces the workshop's locations, the first one first;
	// LocationID alone moves the workshop to that one location.
	LocationIDs *[]int64
	// LocationRanges, beside LocationIDs, are the locations' own seat
	// ranges (zero: the workshop's).
	LocationRanges *[]SeatRange
	Active         *bool
	Beta           *bool
	Priority       *int
	Reset          *bool
	LDAP           *bool
	VarPass        *bool
	Compile        *[]string
	Appliance      *ApplianceMode
	SessionType    *SessionType
	Presenter      *string
	PresenterRole  *string
	Avatar         *string
	Image          *string
	BadgeImage     *string
	ReplayID       *int
	ReplayLink     *string
	Prerequisite   *string
	Limits         *Limits
	Warm           *WarmPool
	Extend         *Duration
	// Opens and Closes set the workshop's dates; a zero time removes one
	// (see wod.ParseWorkshopDate).
	Opens  *time.Time
	Closes *time.Time
	// ClearOverrides lets the content win again on the next import.
	ClearOverrides bool
}

// ImportResult says what importing one workshop did.
type ImportResult struct {
	Slug    string   `json:"slug"`
	Action  string   `json:"action"` // created, updated, unchanged
	Kept    []string `json:"kept,omitempty"`
	Changed []string `json:"changed,omitempty"`
	// Warnings are what deserves a look but did not stop the import: a
	// kernel its notebooks need that its location lacks.
	Warnings []string `json:"warnings,omitempty"`
}

// WorkshopService manages the catalogue.
type WorkshopService interface {
	// FindWorkshops lists workshops ordered by priority then slug, with the
	// total count before paging.
	FindWorkshops(ctx context.Context, filter WorkshopFilter) ([]*Workshop, int, error)
	// FindWorkshop returns the workshop with the slug, or ENOTFOUND.
	FindWorkshop(ctx context.Context, slug string) (*Workshop, error)
	// CreateWorkshop adds a workshop; ECONFLICT if the slug exists.
	CreateWorkshop(ctx context.Context, w *Workshop) error
	// UpdateWorkshop applies an operator's change and records it in Overrides.
	UpdateWorkshop(ctx context.Context, slug string, upd WorkshopUpdate) (*Workshop, error)
	// DeleteWorkshop removes a workshop that has no live registration.
	DeleteWorkshop(ctx context.Context, slug string) error
	// ImportWorkshops creates or updates workshops from content, all or none:
	// fields listed in a workshop's Overrides keep the operator's value.
	ImportWorkshops(ctx context.Context, ws []*Workshop) ([]ImportResult, error)
	// ImportWorkshopsFrom is ImportWorkshops of content pulled from git,
	// which records the repositories' state (the commits imported) in the
	// same transaction: an agent's job never sees the new catalogue with
	// the old commits, nor the reverse.
	ImportWorkshopsFrom(ctx context.Context, ws []*Workshop, repos []*ContentRepo) ([]ImportResult, error)
}
