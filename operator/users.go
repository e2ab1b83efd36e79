package operator

import (
	"context"
	"errors"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// maxPasswordLength bounds what an operator may type: argon2 over
// megabytes of input would be an easy way to burn the server's CPU.
const maxPasswordLength = 1024

// generatePassword makes an operator's password: two student passwords,
// about 140 bits without look-alike characters.
func generatePassword() string { return secret.StudentPassword() + secret.StudentPassword() }

// checkPassword records what is wrong with a password an operator chose.
func checkPassword(v *wod.Validation, pw string) {
	if len(pw) < wod.MinPasswordLength {
		v.Add("password", "must be at least %d characters", wod.MinPasswordLength)
	} else if len(pw) > maxPasswordLength {
		v.Add("password", "must be at most %d characters", maxPasswordLength)
	}
}

// addFields copies the field problems of an EINVALID error into v, so
// that one answer lists every problem of a form. Any other error is
// returned.
func addFields(v *wod.Validation, err error) error {
	var e *wod.Error
	if err == nil {
		return nil
	}
	if !errors.As(err, &e) || e.Code != wod.EINVALID {
		return err
	}
	for _, f := range e.Fields {
		v.Add(f.Field, "%s", f.Message)
	}
	return nil
}

// NewUser is an operator to add.
type NewUser struct {
	Username string
	Email    string
	Role     wod.Role
	// Password is the operator's choice; empty, one is generated.
	Password string
}

// CreateUser adds an operator. It returns the generated password, to be
// shown once, when none was given.
func (s *Service) CreateUser(ctx context.Context, by *wod.Caller, in NewUser) (*wod.User, string, error) {
	u := &wod.User{Username: in.Username, Email: in.Email, Role: in.Role}
	var v wod.Validation
	if err := addFields(&v, u.Validate()); err != nil {
		return nil, "", err
	}
	pw, generated := in.Password, ""
	if pw == "" {
		pw = generatePassword()
		generated = pw
	} else {
		checkPassword(&v, pw)
	}
	if err := v.Err("the user is not valid"); err != nil {
		return nil, "", err
	}
	hash, err := s.Passwords.Hash(pw)
	if err != nil {
		return nil, "", err
	}
	u.PasswordHash = hash
	if err := s.Users.CreateUser(ctx, u); err != nil {
		return nil, "", err
	}
	s.audit(ctx, by, "user.create", "user:"+u.Username, "role "+string(u.Role))
	return u, generated, nil
}

// UserChange is an operator's change to another; nil fields are left
// alone.
type UserChange struct {
	Email    *string
	Role     *wod.Role
	Disabled *bool
	// Password is a new password, which ends the user's sessions.
	Password *string
}

// UpdateUser changes an operator. Nobody disables themselves (another admin
// can), and the store keeps the last enabled admin.
func (s *Service) UpdateUser(ctx context.Context, by *wod.Caller, id int64, ch UserChange) (*wod.User, error) {
	var v wod.Validation
	if ch.Role != nil {
		v.Check(ch.Role.Valid(), "role", "must be admin or moderator")
	}
	if ch.Password != nil {
		checkPassword(&v, *ch.Password)
	}
	if err := v.Err("the user is not valid"); err != nil {
		return nil, err
	}
	if ch.Disabled != nil && *ch.Disabled && by != nil && by.UserID != 0 && by.UserID == id {
		return nil, wod.Errorf(wod.ECONFLICT, "you cannot disable yourself; another admin can")
	}
	upd := wod.UserUpdate{Email: ch.Email, Role: ch.Role, Disabled: ch.Disabled}
	var detail []string
	if ch.Email != nil {
		detail = append(detail, "email changed")
	}
	if ch.Role != nil {
		detail = append(detail, "role "+string(*ch.Role))
	}
	if ch.Disabled != nil {
		detail = append(detail, map[bool]string{true: "disabled", false: "enabled"}[*ch.Disabled])
	}
	if ch.Password != nil {
		hash, err := s.Passwords.Hash(*ch.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
		detail = append(detail, "password changed")
	}
	return s.updateUser(ctx, by, id, upd, strings.Join(detail, ", "))
}

// ResetPassword gives an operator a generated password, returned to be
// shown once; it ends the user's sessions.
func (s *Service) ResetPassword(ctx context.Context, by *wod.Caller, id int64) (*wod.User, string, error) {
	pw := generatePassword()
	hash, err := s.Passwords.Hash(pw)
	if err != nil {
		return nil, "", err
	}
	u, err := s.updateUser(ctx, by, id, wod.UserUpdate{PasswordHash: &hash}, "password reset")
	if err != nil {
		return nil, "", err
	}
	return u, pw, nil
}

func (s *Service) updateUser(ctx context.Context, by *wod.Caller, id int64, upd wod.UserUpdate, detail string) (*wod.User, error) {
	u, err := s.Users.UpdateUser(ctx, id, upd)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, by, "user.update", "user:"+u.Username, detail)
	return u, nil
}

// DeleteUser removes an operator and returns who it was. Nobody removes
// themselves (another admin can), and the store keeps the last enabled
// admin.
func (s *Service) DeleteUser(ctx context.Context, by *wod.Caller, id int64) (*wod.User, error) {
	if by != nil && by.UserID != 0 && by.UserID == id {
		return nil, wod.Errorf(wod.ECONFLICT, "you cannot remove yourself; another admin can")
	}
	u, err := s.Users.FindUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.Users.DeleteUser(ctx, id); err != nil {
		return nil, err
	}
	s.audit(ctx, by, "user.delete", "user:"+u.Username, "")
	return u, nil
}
