package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wod-dev/wod"
)

const userColumns = `id, username, email, role, password_hash, disabled, last_login_at, created_at, updated_at`

func scanUser(row scanner) (*wod.User, error) {
	var u wod.User
	var last sql.NullTime
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, &last,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.LastLoginAt = timePtr(last)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// FindUsers lists operators by name.
func (db *DB) FindUsers(ctx context.Context) (us []*wod.User, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var err error
		us, err = queryAll(tx, scanUser, `SELECT `+userColumns+` FROM users ORDER BY username`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	return us, nil
}

// FindUser returns the user with the id.
func (db *DB) FindUser(ctx context.Context, id int64) (*wod.User, error) {
	return db.findUserBy(ctx, "id", id)
}

// FindUserByName returns the user with the name.
func (db *DB) FindUserByName(ctx context.Context, username string) (*wod.User, error) {
	return db.findUserBy(ctx, "username", username)
}

func (db *DB) findUserBy(ctx context.Context, column string, v any) (u *wod.User, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		u, err = findUserBy(tx, column, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find user %v: %w", v, err)
	}
	return u, nil
}

func findUserBy(tx *Tx, column string, v any) (*wod.User, error) {
	u, err := scanUser(tx.queryRow(`SELECT `+userColumns+` FROM users WHERE `+column+` = $1`, v))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wod.Errorf(wod.ENOTFOUND, "user %v not found", v)
	}
	return u, err
}

// CreateUser adds an operator.
func (db *DB) CreateUser(ctx context.Context, u *wod.User) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	if u.PasswordHash == "" {
		return fmt.Errorf("create user %q: no password hash", u.Username)
	}
	err := db.transact(ctx, func(tx *Tx) error {
		u.CreatedAt, u.UpdatedAt = tx.now, tx.now
		err := tx.queryRow(`INSERT INTO users (username, email, role, password_hash, disabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
			u.Username, u.Email, u.Role, u.PasswordHash, u.Disabled, tx.now).Scan(&u.ID)
		if isUniqueViolation(err, "users_username_key") {
			return wod.Errorf(wod.ECONFLICT, "user %s already exists", u.Username)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	return nil
}

// UpdateUser changes an operator. The last enabled admin can be neither
// demoted nor disabled, so that nobody locks the platform out of itself.
func (db *DB) UpdateUser(ctx context.Context, id int64, upd wod.UserUpdate) (u *wod.User, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		u, err = findUserBy(tx, "id", id)
		if err != nil {
			return err
		}
		wasAdmin := u.Role == wod.RoleAdmin && !u.Disabled
		if upd.Email != nil {
			u.Email = *upd.Email
		}
		if upd.Role != nil {
			u.Role = *upd.Role
		}
		if upd.Disabled != nil {
			u.Disabled = *upd.Disabled
		}
		if upd.PasswordHash != nil {
			u.PasswordHash = *upd.PasswordHash
		}
		if err := u.Validate(); err != nil {
			return err
		}
		if wasAdmin && (u.Role != wod.RoleAdmin || u.Disabled) {
			if err := keepOneAdmin(tx, id); err != nil {
				return err
			}
		}
		u.UpdatedAt = tx.now
		_, err = tx.exec(`UPDATE users SET email = $1, role = $2, disabled = $3, password_hash = $4, updated_at = $5
			WHERE id = $6`, u.Email, u.Role, u.Disabled, u.PasswordHash, tx.now, id)
		if err != nil {
			return err
		}
		if u.Disabled || upd.PasswordHash != nil {
			// Whoever held a session of this user must log in again.
			_, err = tx.exec(`DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

func keepOneAdmin(tx *Tx, exceptID int64) error {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1`,
		exceptID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return wod.Errorf(wod.ECONFLICT, "this is the last enabled admin; create another admin first")
	}
	return nil
}

// DeleteUser removes an operator, never the last enabled admin.
func (db *DB) DeleteUser(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		u, err := findUserBy(tx, "id", id)
		if err != nil {
			return err
		}
		if u.Role == wod.RoleAdmin && !u.Disabled {
			if err := keepOneAdmin(tx, id); err != nil {
				return err
			}
		}
		_, err = tx.exec(`DELETE FROM users WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// TouchLogin records a successful login.
func (db *DB) TouchLogin(ctx context.Context, id int64) error {
	return db.transact(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE users SET last_login_at = $1 WHERE id = $2`, tx.now, id)
		return err
	})
}
