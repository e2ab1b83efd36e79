// Package engine is wod's lifecycle engine: it takes registrations, books
// seats and schedules the jobs and timers that carry a registration from
// pending to done.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	Workshops     wod.WorkshopService
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
	if err := e.check(ctx, req); err != nil {
		return nil, err
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

// check reports every problem of a request at once: its syntax, the address
// policy and the workshop. The store checks the workshop again, atomically,
// when it books the seat.
func (e *Engine) check(ctx context.Context, req wod.RegistrationRequest) error {
	var fields []wod.FieldError
	var we *wod.Error
	if err := req.Validate(); errors.As(err, &we) {
		fields = append(fields, we.Fields...)
	}
	emailOK := !slices.ContainsFunc(fields, func(f wod.FieldError) bool { return f.Field == "email" })
	if emailOK {
		if err := e.Policy.Check(req.Email); err != nil {
			fields = append(fields, wod.FieldError{Field: "email", Message: err.Error()})
		}
	}
	if req.Workshop != "" {
		w, err := e.Workshops.FindWorkshop(ctx, req.Workshop)
		switch {
		case wod.ErrorCode(err) == wod.ENOTFOUND, err == nil && !w.Active:
			fields = append(fields, wod.FieldError{Field: "workshop", Message: fmt.Sprintf("no open workshop is called %q", req.Workshop)})
		case err != nil:
			return err
		}
	}
	if len(fields) > 0 {
		return &wod.Error{Code: wod.EINVALID, Message: "the registration is not valid", Fields: fields}
	}
	return nil
}
