package httpapi

import (
	"context"
	"strconv"

	"github.com/wod-dev/wod"
)

// LegacyBackends takes the REST callbacks of the original backends that
// serve legacy locations: each one is (part of) the report of the job its
// command mail was sent for (engine/legacy.go).
type LegacyBackends interface {
	LegacyPassword(ctx context.Context, r *wod.Registration, password string) error
	LegacyActive(ctx context.Context, r *wod.Registration, active bool) error
	LegacyCompletion(ctx context.Context, r *wod.Registration, percent int) error
	LegacyCleaned(ctx context.Context, r *wod.Registration) error
	LegacySeatFreed(ctx context.Context, l *wod.Location, seat *wod.Seat) error
}

// legacyBackendCustomer applies the callbacks procmail-action.sh sends
// with PUT /api/customer/:id for a registration at a legacy location —
// "active", "completionPercentage", "cleaned", in the order the backend's
// work makes them true — and returns the registration as it is now with
// the fields left for the agents' rules. At an agent's location it
// changes nothing.
func (s *Server) legacyBackendCustomer(ctx context.Context, reg *wod.Registration,
	fields map[string]string) (*wod.Registration, map[string]string, error) {
	l, err := s.Locations.FindLocation(ctx, reg.Location)
	if err != nil || !l.Legacy() || s.Backends == nil {
		return reg, fields, err
	}
	rest := make(map[string]string, len(fields))
	for k, v := range fields {
		rest[k] = v
	}
	if v, ok := rest["active"]; ok {
		active, err := strconv.ParseBool(v)
		if err != nil {
			return nil, nil, invalid("active", "must be true or false")
		}
		if err := s.Backends.LegacyActive(ctx, reg, active); err != nil {
			return nil, nil, err
		}
		delete(rest, "active")
	}
	if v, ok := rest["completionPercentage"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, nil, invalid("completionPercentage", "must be a whole number")
		}
		if err := s.Backends.LegacyCompletion(ctx, reg, n); err != nil {
			return nil, nil, err
		}
		delete(rest, "completionPercentage")
	}
	if v, ok := rest["cleaned"]; ok {
		cleaned, err := strconv.ParseBool(v)
		if err != nil {
			return nil, nil, invalid("cleaned", "must be true or false")
		}
		if cleaned {
			if err := s.Backends.LegacyCleaned(ctx, reg); err != nil {
				return nil, nil, err
			}
		}
		delete(rest, "cleaned")
	}
	reg, err = s.Registrations.FindRegistration(ctx, reg.ID)
	return reg, rest, err
}

// legacyBackendStudent applies PUT /api/student/:id at a legacy location:
// the password a CREATE set (CLEANUP's and PURGE's rotated ones change
// nothing: the participant's time is over), "assigned" false after RESET
// or PURGE (the seat is free again) or during CLEANUP, true while a reset
// workshop's seat waits for its RESET.
func (s *Server) legacyBackendStudent(ctx context.Context, id int64, st *legacyStudent,
	fields map[string]string) (*legacyStudent, map[string]string, error) {
	if !st.loc.Legacy() || s.Backends == nil {
		return st, fields, nil
	}
	rest := make(map[string]string, len(fields))
	for k, v := range fields {
		rest[k] = v
	}
	if pw, ok := rest["password"]; ok {
		if st.reg != nil {
			if err := s.Backends.LegacyPassword(ctx, st.reg, pw); err != nil {
				return nil, nil, err
			}
		}
		delete(rest, "password")
	}
	if v, ok := rest["assigned"]; ok {
		assigned, err := strconv.ParseBool(v)
		if err != nil {
			return nil, nil, invalid("assigned", "must be true or false")
		}
		if !assigned {
			if err := s.Backends.LegacySeatFreed(ctx, st.loc, st.seat); err != nil {
				return nil, nil, err
			}
		} else if st.seat.State == wod.SeatFree {
			return nil, nil, wod.Errorf(wod.ECONFLICT, "student %d is free: only a registration assigns it", id)
		}
		delete(rest, "assigned")
	}
	st, err := s.legacyFindStudent(ctx, id)
	return st, rest, err
}
