package wod

import (
	"context"
	"time"
)

// LegacyKind names a table of the original api-db whose rows wod imports.
type LegacyKind string

const (
	LegacyLocation LegacyKind = "location"
	LegacyWorkshop LegacyKind = "workshop"
	LegacyCustomer LegacyKind = "customer"
	LegacyUser     LegacyKind = "user"
)

// PastRegistration is a finished registration of the original (one of its
// customers) as wod keeps it: history for statistics and badge counts, no
// seat.
type PastRegistration struct {
	LegacyID   int64
	WorkshopID int64
	LocationID int64
	Name       string
	Email      string
	Company    string
	State      RegistrationState // done or failed
	Student    int               // local student number, 0 when unknown
	Completion *int
	CreatedAt  time.Time
	EndsAt     time.Time
	// BadgeLevel is the badge this registration earned (0: none).
	BadgeLevel int
}

// LiveRegistration is a customer still running on the original, taken
// over with its seat (wod import-legacy --live): the participant keeps the
// account and password the original mailed, and wod ends the session.
type LiveRegistration struct {
	LegacyID   int64
	WorkshopID int64
	LocationID int64
	Name       string
	Email      string
	Company    string
	State      RegistrationState // ready or expiring
	Student    int               // local student number: the seat
	// PasswordEnc is the student's password, encrypted with wod's key.
	PasswordEnc []byte
	CreatedAt   time.Time
	EndsAt      time.Time
	// RemindAt schedules the "ends soon" mail (nil: none, already sent).
	RemindAt *time.Time
}

// LegacyImportService records what an import of the original brought over.
type LegacyImportService interface {
	// LegacyImported maps the legacy ids of kind already imported to the
	// ids of the wod rows they became.
	LegacyImported(ctx context.Context, kind LegacyKind) (map[int64]int64, error)
	// RecordLegacy notes that legacy row id of kind became wod row wodID.
	RecordLegacy(ctx context.Context, kind LegacyKind, legacyID, wodID int64) error
	// ImportPastRegistration adds a finished registration, its badge and
	// its legacy record in one transaction; an already imported one is
	// left alone (created false).
	ImportPastRegistration(ctx context.Context, p *PastRegistration) (id int64, created bool, err error)
	// ImportLiveRegistration adds a running registration on its free seat
	// with its end (and reminder) timers and its legacy record, in one
	// transaction. A taken seat or an address with a live registration is
	// ECONFLICT.
	ImportLiveRegistration(ctx context.Context, l *LiveRegistration) (id int64, created bool, err error)
}
