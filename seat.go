package wod

import (
	"context"
	"fmt"
	"time"
)

// SeatState is where a seat (a studentN account) stands.
type SeatState string

// Seat states.
const (
	SeatFree     SeatState = "free"
	SeatAssigned SeatState = "assigned"
	// SeatDirty: the registration is over but the workshop's reset flag keeps
	// the account out of the pool until a reset job has run.
	SeatDirty SeatState = "dirty"
	// SeatWarming: the pool keeper gave the seat to a workshop's warm pool
	// and a warm job prepares it; SeatWarm: prepared (account, password,
	// notebooks, hub user, server) and waiting for a participant of that
	// workshop, who takes it in the booking's own transaction (warm.go).
	SeatWarming SeatState = "warming"
	SeatWarm    SeatState = "warm"
)

// Seat is one student account at a location.
type Seat struct {
	ID         int64     `json:"id"`
	LocationID int64     `json:"location_id"`
	Location   string    `json:"location"`
	Number     int       `json:"number"`     // local student number N
	StudentID  int       `json:"student_id"` // global: location base + N
	Username   string    `json:"username"`   // studentN
	State      SeatState `json:"state"`
	// RegistrationID is the registration holding (or last dirtying) the seat.
	RegistrationID *int64 `json:"registration_id,omitempty"`
	// WarmWorkshop is the workshop a warming or warm seat is kept for.
	WarmWorkshop string `json:"warm_workshop,omitempty"`
	// WarmedAt is when the seat became warm.
	WarmedAt *time.Time `json:"warmed_at,omitempty"`
}

// StudentUsername is the Unix and hub user name of seat number n.
func StudentUsername(n int) string { return fmt.Sprintf("student%d", n) }

// SeatFilter narrows a seat listing.
type SeatFilter struct {
	LocationID *int64
	State      *SeatState
	Page
}

// SeatService lists seats. Seats are taken and given back only through the
// registration lifecycle, never edited directly.
type SeatService interface {
	FindSeats(ctx context.Context, filter SeatFilter) ([]*Seat, int, error)
}
