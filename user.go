package wod

import (
	"context"
	"regexp"
	"time"
)

// Role is what a person or token may do.
type Role string

// Roles. An admin may do everything; a moderator runs the day (reads
// everything, acts on registrations, edits workshops) but does not configure
// locations, people or tokens.
const (
	RoleAdmin     Role = "admin"
	RoleModerator Role = "moderator"
)

// Valid reports whether r names a role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleModerator }

// Allows reports whether a caller with role r may do what needs role need.
func (r Role) Allows(need Role) bool {
	switch need {
	case RoleModerator:
		return r == RoleModerator || r == RoleAdmin
	case RoleAdmin:
		return r == RoleAdmin
	}
	return false
}

// User is an operator who logs in to the admin UI or the API.
type User struct {
	ID           int64      `json:"id"`
	Username     string     `json:"username"`
	Email        string     `json:"email,omitempty"`
	Role         Role       `json:"role"`
	PasswordHash string     `json:"-"`
	Disabled     bool       `json:"disabled"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

var usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$`)

// Validate checks the user's own rules.
func (u *User) Validate() error {
	var v Validation
	v.Check(usernamePattern.MatchString(u.Username), "username", "must be 1-64 letters, digits, dots, dashes, underscores or @")
	v.Check(u.Role.Valid(), "role", "must be admin or moderator")
	if u.Email != "" {
		v.Check(ValidEmail(u.Email), "email", "is not a valid e-mail address")
	}
	return v.Err("the user is not valid")
}

// MinPasswordLength is the shortest password a person may choose.
const MinPasswordLength = 12

// UserUpdate changes a user; nil fields are left alone. PasswordHash is set by
// the caller that hashed the new password.
type UserUpdate struct {
	Email        *string
	Role         *Role
	Disabled     *bool
	PasswordHash *string
}

// Caller is who makes a request: a user (session or personal token), a
// token, or nobody.
type Caller struct {
	UserID  int64
	TokenID int64
	Name    string
	Role    Role
}

// Anonymous reports whether nobody is authenticated.
func (c *Caller) Anonymous() bool { return c == nil || c.Role == "" }

// UserService manages operators.
type UserService interface {
	FindUsers(ctx context.Context) ([]*User, error)
	FindUser(ctx context.Context, id int64) (*User, error)
	// FindUserByName returns the user, or ENOTFOUND.
	FindUserByName(ctx context.Context, username string) (*User, error)
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, id int64, upd UserUpdate) (*User, error)
	DeleteUser(ctx context.Context, id int64) error
	// TouchLogin records a successful login.
	TouchLogin(ctx context.Context, id int64) error
}
