package engine

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// The credentials live here, not in the domain package: the password is
// decrypted with the server's keys (package secret), which the domain may
// not import, and it is the engine that sealed it in its ready step. The
// API, the pages and the outbox all show credentials from these two
// functions, so that a participant reads the same ones everywhere.

// Locations finds a registration's location, for its hub URL and student
// numbering.
type Locations interface {
	FindLocation(ctx context.Context, name string) (*wod.Location, error)
}

// Credentials returns what the participant of r logs in with at its
// location: the hub's login and launch links, the seat's user name and
// global student id once a seat is booked, and the decrypted password while
// the registration runs (see StudentPassword).
func Credentials(ctx context.Context, locations Locations, keys *secret.Keys, r *wod.Registration) (*wod.Credentials, error) {
	c := &wod.Credentials{Username: r.Username}
	if r.Location != "" {
		l, err := registrationLocation(ctx, locations, r, nil)
		if err != nil {
			return nil, fmt.Errorf("credentials of registration %d: %w", r.ID, err)
		}
		c.LoginURL, c.LaunchURL = l.LoginURL(), l.LaunchURL(r.Username)
		if r.SeatID != nil {
			c.StudentID = l.StudentID(r.StudentNumber)
		}
	}
	var err error
	if c.Password, _, err = StudentPassword(keys, r); err != nil {
		return nil, fmt.Errorf("credentials of registration %d: %w", r.ID, err)
	}
	return c, nil
}

// registrationLocation is r's location: at when it is r's, else the one
// read with r, else the store's.
func registrationLocation(ctx context.Context, locations Locations, r *wod.Registration, at *wod.Location) (*wod.Location, error) {
	for _, l := range []*wod.Location{at, r.At} {
		if l != nil && l.Name == r.Location {
			return l, nil
		}
	}
	return locations.FindLocation(ctx, r.Location)
}

// StudentPassword decrypts r's student password while r runs, and reports
// whether it does (with a password to give): a password is valid from the
// ready step until the session ends, and shown or sent only then.
func StudentPassword(keys *secret.Keys, r *wod.Registration) (password string, running bool, err error) {
	if !r.State.Running() || len(r.PasswordEnc) == 0 {
		return "", false, nil
	}
	password, err = keys.Decrypt(r.PasswordEnc)
	if err != nil {
		return "", false, fmt.Errorf("decrypt the student password: %w", err)
	}
	return password, true, nil
}
