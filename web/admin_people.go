package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/secret"
)

// Operators and API tokens are for admins only, as in the API: whoever
// manages them holds every key to the platform.
//
// Generated passwords and token secrets are written into the page that
// answers the POST and nowhere else: not in a flash cookie, a URL or a log.
// p.admin marks every admin answer no-store, so they stay out of caches too.

func (p *Pages) registerAdminPeople(mux *http.ServeMux) {
	admin := func(h func(http.ResponseWriter, *http.Request, *adminRequest)) http.HandlerFunc {
		return p.admin(wod.RoleAdmin, h)
	}
	mux.HandleFunc("GET /admin/users", admin(p.users))
	mux.HandleFunc("POST /admin/users", admin(p.addUser))
	mux.HandleFunc("POST /admin/users/{id}/role", admin(p.changeUserRole))
	mux.HandleFunc("POST /admin/users/{id}/disable", admin(p.disableUser))
	mux.HandleFunc("POST /admin/users/{id}/enable", admin(p.enableUser))
	mux.HandleFunc("POST /admin/users/{id}/password", admin(p.resetPassword))
	mux.HandleFunc("POST /admin/users/{id}/delete", admin(p.deleteUser))
	mux.HandleFunc("POST /admin/tokens", admin(p.createToken))
	mux.HandleFunc("POST /admin/tokens/{id}/delete", admin(p.deleteToken))
}

const usersPage = "/admin/users"

// userForm is the add-user form as typed; the password is never sent back.
type userForm struct {
	Username, Email, Role string
	Errors                map[string]string
}

type tokenForm struct {
	Name, Role, ExpiresDays string
	Errors                  map[string]string
}

type userRow struct {
	*wod.User
	Self bool
	// LastAdmin is the only enabled admin, whom the store will not let
	// anyone remove, disable or demote.
	LastAdmin bool
}

type tokenRow struct {
	*wod.Token
	Expired bool
}

type usersData struct {
	Users  []*userRow
	Tokens []*tokenRow
	User   userForm
	Token  tokenForm
	// NewPassword was generated for PasswordFor by this request.
	NewPassword, PasswordFor string
	// NewToken is the secret of the token TokenName created by this request.
	NewToken, TokenName string
}

func (p *Pages) users(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	p.renderUsers(w, r, a, http.StatusOK, &usersData{})
}

func (p *Pages) renderUsers(w http.ResponseWriter, r *http.Request, a *adminRequest, status int, d *usersData) {
	us, err := p.Users.FindUsers(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	ts, err := p.Tokens.FindTokens(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	admins := 0
	for _, u := range us {
		if u.Role == wod.RoleAdmin && !u.Disabled {
			admins++
		}
	}
	d.Users, d.Tokens = nil, nil
	for _, u := range us {
		d.Users = append(d.Users, &userRow{User: u, Self: u.ID == a.Caller.UserID,
			LastAdmin: admins == 1 && u.Role == wod.RoleAdmin && !u.Disabled})
	}
	now := p.Clock.Now()
	for _, t := range ts {
		d.Tokens = append(d.Tokens, &tokenRow{Token: t, Expired: t.ExpiresAt != nil && !t.ExpiresAt.After(now)})
	}
	if d.User.Role == "" {
		d.User.Role = string(wod.RoleModerator)
	}
	if d.Token.Role == "" {
		d.Token.Role = string(wod.RoleModerator)
	}
	title := "Users and tokens"
	if len(d.User.Errors) > 0 || len(d.Token.Errors) > 0 {
		title = "Please check the form — " + title
	}
	p.render(w, r, status, "admin/users.html", p.adminView(w, r, a, "users", title, d))
}

// fieldErrors returns the per-field problems of an EINVALID error.
func fieldErrors(err error) (map[string]string, bool) {
	var e *wod.Error
	if !errors.As(err, &e) || e.Code != wod.EINVALID || len(e.Fields) == 0 {
		return nil, false
	}
	m := map[string]string{}
	for _, f := range e.Fields {
		if _, seen := m[f.Field]; !seen {
			m[f.Field] = f.Message
		}
	}
	return m, true
}

// generatePassword makes an operator's password: two student passwords,
// as the API and the CLI do, so about 140 bits without look-alikes.
func generatePassword() string { return secret.StudentPassword() + secret.StudentPassword() }

// maxPasswordLength matches the API's limit; argon2 on megabytes of input
// would be an easy way to burn the server's CPU.
const maxPasswordLength = 1024

func (p *Pages) addUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := userForm{Username: strings.TrimSpace(r.PostFormValue("username")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role")}
	u := &wod.User{Username: f.Username, Email: f.Email, Role: wod.Role(f.Role)}
	f.Errors, _ = fieldErrors(u.Validate())
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	pw, generated := r.PostFormValue("password"), false
	switch {
	case pw == "":
		pw, generated = generatePassword(), true
	case len(pw) < wod.MinPasswordLength:
		f.Errors["password"] = fmt.Sprintf("must be at least %d characters", wod.MinPasswordLength)
	case len(pw) > maxPasswordLength:
		f.Errors["password"] = fmt.Sprintf("must be at most %d characters", maxPasswordLength)
	}
	if len(f.Errors) > 0 {
		p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{User: f})
		return
	}
	hash, err := secret.HashPassword(pw)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	u.PasswordHash = hash
	if err := p.Users.CreateUser(r.Context(), u); err != nil {
		if errs, ok := fieldErrors(err); ok {
			f.Errors = errs
			p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{User: f})
			return
		}
		if wod.ErrorCode(err) == wod.ECONFLICT {
			f.Errors = map[string]string{"username": "is taken by another operator"}
			p.renderUsers(w, r, a, http.StatusConflict, &usersData{User: f})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.audit(r, a, "user.create", "user:"+u.Username, "role "+string(u.Role))
	if !generated {
		p.done(w, r, usersPage, "User "+u.Username+" added as "+string(u.Role)+".")
		return
	}
	p.renderUsers(w, r, a, http.StatusCreated, &usersData{NewPassword: pw, PasswordFor: u.Username})
}

// pathID reads the {id} of an action's path; a malformed one names nothing.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, wod.Errorf(wod.ENOTFOUND, "there is no such item")
	}
	return id, nil
}

// updateUser applies upd to the user of the path and audits it as the API
// does; the store keeps the last enabled admin.
func (p *Pages) updateUser(w http.ResponseWriter, r *http.Request, a *adminRequest, upd wod.UserUpdate, detail string) (*wod.User, bool) {
	id, err := pathID(r)
	if err == nil {
		if upd.Disabled != nil && *upd.Disabled && id == a.Caller.UserID {
			err = wod.Errorf(wod.ECONFLICT, "you cannot disable yourself; another admin can")
		}
	}
	var u *wod.User
	if err == nil {
		u, err = p.Users.UpdateUser(r.Context(), id, upd)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return nil, false
	}
	p.audit(r, a, "user.update", "user:"+u.Username, detail)
	return u, true
}

func (p *Pages) changeUserRole(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	role := wod.Role(r.PostFormValue("role"))
	if !role.Valid() {
		p.actionFailed(w, r, usersPage, wod.Errorf(wod.EINVALID, "the role must be admin or moderator"))
		return
	}
	if u, ok := p.updateUser(w, r, a, wod.UserUpdate{Role: &role}, "role "+string(role)); ok {
		p.done(w, r, usersPage, u.Username+" is now "+string(role)+".")
	}
}

func (p *Pages) disableUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	yes := true
	if u, ok := p.updateUser(w, r, a, wod.UserUpdate{Disabled: &yes}, "disabled"); ok {
		p.done(w, r, usersPage, u.Username+" is disabled and logged out.")
	}
}

func (p *Pages) enableUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	no := false
	if u, ok := p.updateUser(w, r, a, wod.UserUpdate{Disabled: &no}, "enabled"); ok {
		p.done(w, r, usersPage, u.Username+" is enabled again.")
	}
}

// resetPassword sets a generated password, which ends the user's sessions
// (the store does that with any new password).
func (p *Pages) resetPassword(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	pw := generatePassword()
	hash, err := secret.HashPassword(pw)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	u, ok := p.updateUser(w, r, a, wod.UserUpdate{PasswordHash: &hash}, "password reset")
	if !ok {
		return
	}
	p.renderUsers(w, r, a, http.StatusOK, &usersData{NewPassword: pw, PasswordFor: u.Username})
}

func (p *Pages) deleteUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	if err == nil && id == a.Caller.UserID {
		err = wod.Errorf(wod.ECONFLICT, "you cannot remove yourself; another admin can")
	}
	var u *wod.User
	if err == nil {
		u, err = p.Users.FindUser(r.Context(), id)
	}
	if err == nil {
		err = p.Users.DeleteUser(r.Context(), id)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return
	}
	p.audit(r, a, "user.delete", "user:"+u.Username, "")
	p.done(w, r, usersPage, "User "+u.Username+" removed.")
}

// maxTokenDays keeps an expiry within what a date column and a person can
// reason about; "never" is the empty field.
const maxTokenDays = 3650

func (p *Pages) createToken(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := tokenForm{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"),
		ExpiresDays: strings.TrimSpace(r.PostFormValue("expires_days")), Errors: map[string]string{}}
	// A nameless token cannot be told apart in the list when the time
	// comes to revoke it.
	if f.Name == "" {
		f.Errors["name"] = "is required: say what the token is for"
	} else if len(f.Name) > 100 {
		f.Errors["name"] = "is longer than 100 characters"
	}
	role := wod.Role(f.Role)
	if !role.Valid() {
		f.Errors["role"] = "must be admin or moderator"
	}
	days := 0
	if f.ExpiresDays != "" {
		n, err := strconv.Atoi(f.ExpiresDays)
		if err != nil || n < 1 || n > maxTokenDays {
			f.Errors["expires_days"] = fmt.Sprintf("must be a whole number of days from 1 to %d, or empty", maxTokenDays)
		}
		days = n
	}
	if len(f.Errors) > 0 {
		p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{Token: f})
		return
	}
	tok, prefix, hash := secret.NewToken()
	t := &wod.Token{Name: f.Name, Role: role, Prefix: prefix, Hash: hash, CreatedBy: a.Caller.Name}
	if days > 0 {
		exp := p.Clock.Now().Add(time.Duration(days) * 24 * time.Hour)
		t.ExpiresAt = &exp
	}
	if err := p.Tokens.CreateToken(r.Context(), t); err != nil {
		if errs, ok := fieldErrors(err); ok {
			f.Errors = errs
			p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{Token: f})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.audit(r, a, "token.create", "token:"+strconv.FormatInt(t.ID, 10), t.Name+" ("+string(t.Role)+")")
	p.renderUsers(w, r, a, http.StatusCreated, &usersData{NewToken: tok, TokenName: t.Name})
}

func (p *Pages) deleteToken(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	if err == nil {
		err = p.Tokens.DeleteToken(r.Context(), id)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return
	}
	p.audit(r, a, "token.delete", "token:"+strconv.FormatInt(id, 10), "")
	p.done(w, r, usersPage, "Token revoked: it no longer opens the API.")
}
