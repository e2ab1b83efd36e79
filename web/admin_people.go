package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// Operators and API tokens are for admins only: whoever manages them holds
// every key to the platform. The operator service validates, acts and
// audits; these handlers read the forms and show the outcome.
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

// addFieldErrors adds the per-field problems of err to errs, keeping what
// the form itself found first, so that a form shows every problem at once.
func addFieldErrors(errs map[string]string, err error) {
	fe, _ := fieldErrors(err)
	for k, v := range fe {
		if _, seen := errs[k]; !seen {
			errs[k] = v
		}
	}
}

func (p *Pages) addUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := userForm{Username: strings.TrimSpace(r.PostFormValue("username")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role")}
	u, pw, err := p.Operator.CreateUser(r.Context(), a.Caller, operator.NewUser{Username: f.Username, Email: f.Email,
		Role: wod.Role(f.Role), Password: r.PostFormValue("password")})
	if err != nil {
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
	if pw == "" {
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

// updateUser applies ch to the user of the path.
func (p *Pages) updateUser(w http.ResponseWriter, r *http.Request, a *adminRequest, ch operator.UserChange) (*wod.User, bool) {
	id, err := pathID(r)
	var u *wod.User
	if err == nil {
		u, err = p.Operator.UpdateUser(r.Context(), a.Caller, id, ch)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return nil, false
	}
	return u, true
}

func (p *Pages) changeUserRole(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	role := wod.Role(r.PostFormValue("role"))
	if u, ok := p.updateUser(w, r, a, operator.UserChange{Role: &role}); ok {
		p.done(w, r, usersPage, u.Username+" is now "+string(role)+".")
	}
}

func (p *Pages) disableUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	yes := true
	if u, ok := p.updateUser(w, r, a, operator.UserChange{Disabled: &yes}); ok {
		p.done(w, r, usersPage, u.Username+" is disabled and logged out.")
	}
}

func (p *Pages) enableUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	no := false
	if u, ok := p.updateUser(w, r, a, operator.UserChange{Disabled: &no}); ok {
		p.done(w, r, usersPage, u.Username+" is enabled again.")
	}
}

// resetPassword sets a generated password, shown once, which ends the
// user's sessions.
func (p *Pages) resetPassword(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	var (
		u  *wod.User
		pw string
	)
	if err == nil {
		u, pw, err = p.Operator.ResetPassword(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return
	}
	p.renderUsers(w, r, a, http.StatusOK, &usersData{NewPassword: pw, PasswordFor: u.Username})
}

func (p *Pages) deleteUser(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	var u *wod.User
	if err == nil {
		u, err = p.Operator.DeleteUser(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return
	}
	p.done(w, r, usersPage, "User "+u.Username+" removed.")
}

// maxTokenDays keeps an expiry within what a date column and a person can
// reason about; "never" is the empty field.
const maxTokenDays = 3650

func (p *Pages) createToken(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	f := tokenForm{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"),
		ExpiresDays: strings.TrimSpace(r.PostFormValue("expires_days")), Errors: map[string]string{}}
	spec := operator.TokenSpec{Name: f.Name, Role: wod.Role(f.Role)}
	// The form counts the lifetime in days; the service takes a duration.
	if f.ExpiresDays != "" {
		n, err := strconv.Atoi(f.ExpiresDays)
		if err != nil || n < 1 || n > maxTokenDays {
			f.Errors["expires_days"] = fmt.Sprintf("must be a whole number of days from 1 to %d, or empty", maxTokenDays)
		} else {
			spec.ExpiresIn = (time.Duration(n) * 24 * time.Hour).String()
		}
	}
	// The form's problems and the service's are shown together.
	addFieldErrors(f.Errors, p.Operator.ValidateToken(spec))
	if len(f.Errors) > 0 {
		p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{Token: f})
		return
	}
	t, tok, err := p.Operator.CreateToken(r.Context(), a.Caller, spec)
	if err != nil {
		if f.Errors, _ = fieldErrors(err); f.Errors != nil {
			p.renderUsers(w, r, a, http.StatusUnprocessableEntity, &usersData{Token: f})
			return
		}
		p.fail(w, r, err)
		return
	}
	p.renderUsers(w, r, a, http.StatusCreated, &usersData{NewToken: tok, TokenName: t.Name})
}

func (p *Pages) deleteToken(w http.ResponseWriter, r *http.Request, a *adminRequest) {
	id, err := pathID(r)
	if err == nil {
		err = p.Operator.DeleteToken(r.Context(), a.Caller, id)
	}
	if err != nil {
		p.actionFailed(w, r, usersPage, err)
		return
	}
	p.done(w, r, usersPage, "Token revoked: it no longer opens the API.")
}
