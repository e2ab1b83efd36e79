package operator_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

// rig is the service over a fresh SQLite store.
type rig struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	clock *storetest.Clock
	ops   *operator.Service
}

func newRig(t *testing.T) *rig {
	t.Helper()
	clock := storetest.NewClock(storetest.T0)
	db := storetest.Open(t, store.SQLite, clock)
	return &rig{t: t, ctx: context.Background(), db: db, clock: clock, ops: catalogService(db, clock)}
}

// events lists the audit events of a kind, oldest first.
func (r *rig) events(kind string) []*wod.Event {
	r.t.Helper()
	return auditOf(r.t, r.db, kind)
}

// fields returns the fields an EINVALID error names, or fails.
func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	e, ok := err.(*wod.Error)
	if !ok || e.Code != wod.EINVALID {
		t.Fatalf("want an EINVALID *wod.Error, got %T %v", err, err)
	}
	m := map[string]string{}
	for _, f := range e.Fields {
		m[f.Field] = f.Message
	}
	return m
}

var (
	root = &wod.Caller{UserID: 1, Name: "root", Role: wod.RoleAdmin}
	cli  = &wod.Caller{Name: "cli", Role: wod.RoleAdmin}
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// Every problem of the input at once; nothing created.
	_, _, err := r.ops.CreateUser(r.ctx, root, operator.NewUser{Username: "bad name", Email: "ann@nowhere",
		Role: "boss", Password: "short-pw"})
	f := fields(t, err)
	if f["username"] == "" || f["email"] == "" || f["role"] != "must be admin or moderator" ||
		f["password"] != "must be at least 12 characters" {
		t.Fatalf("fields: %v", f)
	}
	_, _, err = r.ops.CreateUser(r.ctx, root, operator.NewUser{Username: "long", Role: wod.RoleAdmin,
		Password: strings.Repeat("x", 1025)})
	if f := fields(t, err); f["password"] != "must be at most 1024 characters" {
		t.Fatalf("long password: %v", f)
	}
	if us, _ := r.db.FindUsers(r.ctx); len(us) != 0 || len(r.events("user.create")) != 0 {
		t.Fatalf("invalid users were created: %+v", us)
	}

	// Without a password, one is generated and returned once.
	u, pw, err := r.ops.CreateUser(r.ctx, root, operator.NewUser{Username: "ann", Email: "ann@acme.test", Role: wod.RoleModerator})
	if err != nil || u.ID == 0 || len(pw) < wod.MinPasswordLength || len(pw) != 2*len(secret.StudentPassword()) {
		t.Fatalf("generated: %+v %q %v", u, pw, err)
	}
	stored, _ := r.db.FindUserByName(r.ctx, "ann")
	if !secret.CheckPassword(pw, stored.PasswordHash) {
		t.Fatal("the generated password does not open the account")
	}
	// A chosen one is kept and not returned.
	if _, pw, err := r.ops.CreateUser(r.ctx, cli, operator.NewUser{Username: "bob", Role: wod.RoleAdmin,
		Password: "bob's own password"}); err != nil || pw != "" {
		t.Fatalf("chosen: %q %v", pw, err)
	}
	if stored, _ := r.db.FindUserByName(r.ctx, "bob"); !secret.CheckPassword("bob's own password", stored.PasswordHash) {
		t.Fatal("the chosen password does not open the account")
	}
	if _, _, err := r.ops.CreateUser(r.ctx, root, operator.NewUser{Username: "ann", Role: wod.RoleAdmin}); wod.ErrorCode(err) != wod.ECONFLICT {
		t.Fatalf("duplicate: %v", err)
	}
	es := r.events("user.create")
	if len(es) != 2 || es[0].Actor != "root" || es[0].Subject != "user:ann" || es[0].Detail != "role moderator" ||
		es[1].Actor != "cli" || es[1].Subject != "user:bob" {
		t.Fatalf("audit: %+v %+v", es[0], es)
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	boss, _, err := r.ops.CreateUser(r.ctx, cli, operator.NewUser{Username: "boss", Role: wod.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ann, _, _ := r.ops.CreateUser(r.ctx, cli, operator.NewUser{Username: "ann", Role: wod.RoleModerator})
	by := &wod.Caller{UserID: boss.ID, Name: "boss", Role: wod.RoleAdmin}

	short, bad := "short", wod.Role("root")
	if f := fields(t, func() error {
		_, err := r.ops.UpdateUser(r.ctx, by, ann.ID, operator.UserChange{Password: &short, Role: &bad})
		return err
	}()); f["password"] == "" || f["role"] == "" {
		t.Fatalf("fields: %v", f)
	}
	// The last enabled admin stays one; nobody disables themselves.
	mod, yes := wod.RoleModerator, true
	if _, err := r.ops.UpdateUser(r.ctx, by, boss.ID, operator.UserChange{Role: &mod}); wod.ErrorCode(err) != wod.ECONFLICT ||
		!strings.Contains(wod.ErrorMessage(err), "last enabled admin") {
		t.Fatalf("demote the last admin: %v", err)
	}
	if _, err := r.ops.UpdateUser(r.ctx, by, boss.ID, operator.UserChange{Disabled: &yes}); wod.ErrorCode(err) != wod.ECONFLICT ||
		wod.ErrorMessage(err) != "you cannot disable yourself; another admin can" {
		t.Fatalf("disable oneself: %v", err)
	}
	if len(r.events("user.update")) != 0 {
		t.Fatal("refused changes were audited")
	}

	admin := wod.RoleAdmin
	if u, err := r.ops.UpdateUser(r.ctx, by, ann.ID, operator.UserChange{Role: &admin}); err != nil || u.Role != wod.RoleAdmin {
		t.Fatalf("promote: %+v %v", u, err)
	}
	if _, err := r.ops.UpdateUser(r.ctx, by, ann.ID, operator.UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	chosen := "ann's new password"
	if _, err := r.ops.UpdateUser(r.ctx, by, ann.ID, operator.UserChange{Password: &chosen}); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.db.FindUser(r.ctx, ann.ID); !secret.CheckPassword(chosen, u.PasswordHash) {
		t.Fatal("the new password does not open the account")
	}
	u, pw, err := r.ops.ResetPassword(r.ctx, by, ann.ID)
	if err != nil || u.Username != "ann" || len(pw) < wod.MinPasswordLength {
		t.Fatalf("reset: %+v %q %v", u, pw, err)
	}
	if u, _ := r.db.FindUser(r.ctx, ann.ID); !secret.CheckPassword(pw, u.PasswordHash) {
		t.Fatal("the reset password does not open the account")
	}
	if _, _, err := r.ops.ResetPassword(r.ctx, by, 999); wod.ErrorCode(err) != wod.ENOTFOUND {
		t.Fatalf("reset an unknown user: %v", err)
	}
	var details []string
	for _, e := range r.events("user.update") {
		if e.Actor != "boss" || e.Subject != "user:ann" {
			t.Fatalf("event %+v", e)
		}
		details = append(details, e.Detail)
	}
	if want := []string{"role admin", "disabled", "password changed", "password reset"}; !slices.Equal(details, want) {
		t.Fatalf("details %q, want %q", details, want)
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	boss, _, _ := r.ops.CreateUser(r.ctx, cli, operator.NewUser{Username: "boss", Role: wod.RoleAdmin})
	by := &wod.Caller{UserID: boss.ID, Name: "boss", Role: wod.RoleAdmin}
	if _, err := r.ops.DeleteUser(r.ctx, by, boss.ID); wod.ErrorMessage(err) != "you cannot remove yourself; another admin can" {
		t.Fatalf("remove oneself: %v", err)
	}
	// A token has no user id: the store still keeps the last admin.
	if _, err := r.ops.DeleteUser(r.ctx, cli, boss.ID); wod.ErrorCode(err) != wod.ECONFLICT ||
		!strings.Contains(wod.ErrorMessage(err), "last enabled admin") {
		t.Fatalf("remove the last admin: %v", err)
	}
	ann, _, _ := r.ops.CreateUser(r.ctx, cli, operator.NewUser{Username: "ann", Role: wod.RoleModerator})
	if u, err := r.ops.DeleteUser(r.ctx, by, ann.ID); err != nil || u.Username != "ann" {
		t.Fatalf("remove ann: %+v %v", u, err)
	}
	if _, err := r.ops.DeleteUser(r.ctx, by, ann.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
		t.Fatalf("remove ann again: %v", err)
	}
	if es := r.events("user.delete"); len(es) != 1 || es[0].Subject != "user:ann" || es[0].Actor != "boss" {
		t.Fatalf("audit: %+v", es)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, c := range []struct {
		spec  operator.TokenSpec
		field string
	}{
		{operator.TokenSpec{Name: " ", Role: wod.RoleAdmin}, "name"},
		{operator.TokenSpec{Name: strings.Repeat("n", 101), Role: wod.RoleAdmin}, "name"},
		{operator.TokenSpec{Name: "ci", Role: "boss"}, "role"},
		{operator.TokenSpec{Name: "ci", Role: wod.RoleAdmin, ExpiresIn: "soon"}, "expires_in"},
		{operator.TokenSpec{Name: "ci", Role: wod.RoleAdmin, ExpiresIn: "-1h"}, "expires_in"},
		{operator.TokenSpec{Name: "ci", Role: wod.RoleAdmin, ExpiresIn: "0s"}, "expires_in"},
	} {
		if f := fields(t, r.ops.ValidateToken(c.spec)); f[c.field] == "" || len(f) != 1 {
			t.Errorf("%+v: %v", c.spec, f)
		}
		if _, _, err := r.ops.CreateToken(r.ctx, root, c.spec); fields(t, err)[c.field] == "" {
			t.Errorf("create %+v: %v", c.spec, err)
		}
	}
	if ts, _ := r.db.FindTokens(r.ctx); len(ts) != 0 {
		t.Fatalf("invalid tokens were created: %+v", ts)
	}

	tk, tok, err := r.ops.CreateToken(r.ctx, root, operator.TokenSpec{Name: "ci", Role: wod.RoleModerator, ExpiresIn: "720h"})
	if err != nil || !strings.HasPrefix(tok, tk.Prefix) || tk.CreatedBy != "root" || tk.ExpiresAt == nil ||
		!tk.ExpiresAt.Equal(storetest.T0.Add(720*time.Hour)) {
		t.Fatalf("token: %+v %q %v", tk, tok, err)
	}
	if found, err := r.db.FindTokenByHash(r.ctx, secret.HashToken(tok)); err != nil || found.ID != tk.ID {
		t.Fatalf("the secret does not open: %v", err)
	}
	never, _, err := r.ops.CreateToken(r.ctx, cli, operator.TokenSpec{Name: "cli", Role: wod.RoleAdmin})
	if err != nil || never.ExpiresAt != nil || never.CreatedBy != "cli" {
		t.Fatalf("token without expiry: %+v %v", never, err)
	}
	if err := r.ops.DeleteToken(r.ctx, root, tk.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.ops.DeleteToken(r.ctx, root, tk.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
		t.Fatalf("delete again: %v", err)
	}
	es := r.events("token.create")
	if len(es) != 2 || es[0].Subject != "token:"+itoa(tk.ID) || es[0].Detail != "ci (moderator)" || es[1].Actor != "cli" {
		t.Fatalf("create events: %+v", es)
	}
	if es := r.events("token.delete"); len(es) != 1 || es[0].Subject != "token:"+itoa(tk.ID) || es[0].Actor != "root" {
		t.Fatalf("delete events: %+v", es)
	}
}

func TestAnnouncements(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	now := r.clock.Now()
	past, later, sooner := now.Add(-time.Minute), now.Add(2*time.Hour), now.Add(time.Hour)
	f := fields(t, r.ops.CreateAnnouncement(r.ctx, root, &wod.Announcement{Message: " ", EndsAt: &past}))
	if f["message"] != "is required" || f["ends_at"] != "is already past (times are UTC)" {
		t.Fatalf("fields: %v", f)
	}
	f = fields(t, r.ops.ValidateAnnouncement(&wod.Announcement{Message: "x", Level: "loud", StartsAt: &later, EndsAt: &sooner}))
	if f["level"] == "" || f["ends_at"] != "must be after starts_at" {
		t.Fatalf("fields: %v", f)
	}
	a := &wod.Announcement{Message: "Hub restart at noon", EndsAt: &later}
	if err := r.ops.CreateAnnouncement(r.ctx, root, a); err != nil || a.ID == 0 || a.Level != "info" {
		t.Fatalf("create: %+v %v", a, err)
	}
	if err := r.ops.DeleteAnnouncement(r.ctx, root, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.ops.DeleteAnnouncement(r.ctx, root, a.ID); wod.ErrorCode(err) != wod.ENOTFOUND {
		t.Fatalf("delete again: %v", err)
	}
	subject := "announcement:" + itoa(a.ID)
	if c, d := r.events("announcement.create"), r.events("announcement.delete"); len(c) != 1 || c[0].Subject != subject ||
		len(d) != 1 || d[0].Subject != subject || d[0].Actor != "root" {
		t.Fatalf("events: %+v %+v", c, d)
	}
}

func TestLTIPlatforms(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	p := &wod.LTIPlatform{Name: "Moodle!", Issuer: "https://moodle.example.edu", AuthURL: "ftp://x"}
	if f := fields(t, r.ops.CreateLTIPlatform(r.ctx, root, p)); f["name"] == "" || f["client_id"] == "" ||
		f["auth_url"] == "" || f["jwks_url"] == "" {
		t.Fatalf("fields: %v", f)
	}
	p = &wod.LTIPlatform{Name: "moodle-cs101", Issuer: "https://moodle.example.edu", ClientID: "abc",
		AuthURL: "https://moodle.example.edu/mod/lti/auth.php", JWKSURL: "https://moodle.example.edu/mod/lti/certs.php"}
	if err := r.ops.CreateLTIPlatform(r.ctx, root, p); err != nil || p.ID == 0 {
		t.Fatalf("create: %v", err)
	}
	dup := *p
	if err := r.ops.CreateLTIPlatform(r.ctx, root, &dup); wod.ErrorCode(err) != wod.ECONFLICT {
		t.Fatalf("duplicate: %v", err)
	}
	if err := r.ops.DeleteLTIPlatform(r.ctx, root, p.ID); err != nil {
		t.Fatal(err)
	}
	c, d := r.events("lti.platform.create"), r.events("lti.platform.delete")
	if len(c) != 1 || c[0].Subject != "lti:moodle-cs101" || c[0].Detail != "https://moodle.example.edu" ||
		len(d) != 1 || d[0].Subject != "lti:"+itoa(p.ID) {
		t.Fatalf("events: %+v %+v", c, d)
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	dir := t.TempDir()
	path, err := r.ops.EnsureAdmin(r.ctx, dir)
	if err != nil || path != filepath.Join(dir, operator.InitialAdminFile) {
		t.Fatalf("first admin: %q %v", path, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", info, err)
	}
	data, _ := os.ReadFile(path)
	pw := strings.TrimSuffix(string(data), "\n")
	u, err := r.db.FindUserByName(r.ctx, "admin")
	if err != nil || u.Role != wod.RoleAdmin || len(pw) < wod.MinPasswordLength || !secret.CheckPassword(pw, u.PasswordHash) {
		t.Fatalf("admin %+v %v; password of %d characters", u, err, len(pw))
	}
	// With users there, nothing happens.
	os.Remove(path)
	if path, err := r.ops.EnsureAdmin(r.ctx, dir); err != nil || path != "" {
		t.Fatalf("second run: %q %v", path, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the second run wrote a password")
	}
	// A data directory it cannot write to leaves no admin behind.
	r2 := newRig(t)
	if _, err := r2.ops.EnsureAdmin(r2.ctx, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("no error for a missing directory")
	}
	if us, _ := r2.db.FindUsers(r2.ctx); len(us) != 0 {
		t.Fatalf("users: %+v", us)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
