package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wod-dev/wod"
)

const tokenColumns = `id, name, role, prefix, hash, created_by, expires_at, last_used_at, created_at`

func scanToken(row scanner) (*wod.Token, error) {
	var t wod.Token
	var exp, used sql.NullTime
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Prefix, &t.Hash, &t.CreatedBy, &exp, &used, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.ExpiresAt, t.LastUsedAt = timePtr(exp), timePtr(used)
	t.CreatedAt = t.CreatedAt.UTC()
	return &t, nil
}

// FindTokens lists API tokens, newest first.
func (db *DB) FindTokens(ctx context.Context) (ts []*wod.Token, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		var err error
		ts, err = queryAll(tx, scanToken, `SELECT `+tokenColumns+` FROM tokens ORDER BY id DESC`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	return ts, nil
}

// CreateToken stores a token's hash.
func (db *DB) CreateToken(ctx context.Context, t *wod.Token) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	err := db.transact(ctx, func(tx *Tx) error {
		t.CreatedAt = tx.now
		return tx.queryRow(`INSERT INTO tokens (name, role, prefix, hash, created_by, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			t.Name, t.Role, t.Prefix, t.Hash, t.CreatedBy, nullTime(t.ExpiresAt), tx.now).Scan(&t.ID)
	})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// DeleteToken revokes a token.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM tokens WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wod.Errorf(wod.ENOTFOUND, "token %d not found", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete token %d: %w", id, err)
	}
	return nil
}

// FindTokenByHash returns the unexpired token with the hash and stamps its
// use.
func (db *DB) FindTokenByHash(ctx context.Context, hash []byte) (t *wod.Token, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		t, err = scanToken(tx.queryRow(`SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && t.ExpiresAt != nil && !t.ExpiresAt.After(tx.now)) {
			return wod.Errorf(wod.EUNAUTHORIZED, "the token is unknown, revoked or expired")
		}
		if err != nil {
			return err
		}
		// Stamp at most once a minute: a busy token must not turn every read
		// into a write.
		if t.LastUsedAt == nil || tx.now.Sub(*t.LastUsedAt) > 60e9 {
			_, err = tx.exec(`UPDATE tokens SET last_used_at = $1 WHERE id = $2`, tx.now, t.ID)
			t.LastUsedAt = &tx.now
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}
