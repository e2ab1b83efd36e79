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
}
