// Package engine is wod's lifecycle engine: it takes registrations, books
// seats and schedules the jobs and timers that carry a registration from
// pending to done.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wod-dev/wod"
)

// AddressPolicy decides which e-mail addresses may register.
type AddressPolicy interface {
	Check(addr string) error
}

// Engine drives registrations. Its zero value is not usable; fill every
// field.
type Engine struct {
	Registrations wod.RegistrationService
	Policy        AddressPolicy
	Clock         wod.Clock
	Logger        *slog.Logger
	// ProvisionTimeout is how long a registration may stay pending before
	// it is purged with an apology.
	ProvisionTimeout time.Duration
}

// DefaultProvisionTimeout is the original's ten-minute rule.
const DefaultProvisionTimeout = 10 * time.Minute

var _ wod.Registrar = (*Engine)(nil)

// Register validates the request, applies the address policy and books a
// seat; in the same transaction it schedules the agent's create job and the
// watchdog that purges the registration if it is not ready in time.
func (e *Engine) Register(ctx context.Context, req wod.RegistrationRequest) (*wod.Registration, error) {
	req.Normalize()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := e.Policy.Check(req.Email); err != nil {
		return nil, &wod.Error{Code: wod.EINVALID, Message: "the registration is not valid",
			Fields: []wod.FieldError{{Field: "email", Message: err.Error()}}}
	}
	now := e.Clock.Now()
	r, err := e.Registrations.CreateRegistration(ctx, &wod.NewRegistration{
		Request: req,
		Jobs: []*wod.Job{
			{Kind: wod.JobCreate, RunAt: now},
			{Kind: wod.JobWatchdog, RunAt: now.Add(e.ProvisionTimeout), MaxAttempts: wod.DefaultMaxAttempts},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("register %s for %s: %w", req.Email, req.Workshop, err)
	}
	e.Logger.InfoContext(ctx, "registration booked", "registration", r.ID, "workshop", r.Workshop,
		"seat", r.Username, "location", r.LocationID)
	return r, nil
}
