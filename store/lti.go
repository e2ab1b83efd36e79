package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wod-dev/wod"
)

var _ wod.LTIService = (*DB)(nil)

const ltiPlatformColumns = `id, name, issuer, client_id, deployment_ids, auth_url, jwks_url, token_url, created_at`

func scanLTIPlatform(row scanner) (*wod.LTIPlatform, error) {
	var p wod.LTIPlatform
	var deployments string
	if err := row.Scan(&p.ID, &p.Name, &p.Issuer, &p.ClientID, &deployments, &p.AuthURL, &p.JWKSURL, &p.TokenURL, &p.CreatedAt); err != nil {
		return nil, err
	}
	if deployments != "" {
		p.DeploymentIDs = strings.Split(deployments, ",")
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return &p, nil
}

// FindLTIPlatforms lists the platforms by name.
func (db *DB) FindLTIPlatforms(ctx context.Context) (ps []*wod.LTIPlatform, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		ps, err = queryAll(tx, scanLTIPlatform, `SELECT `+ltiPlatformColumns+` FROM lti_platforms ORDER BY name`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find LTI platforms: %w", err)
	}
	return ps, nil
}

// FindLTIPlatform finds a platform by issuer and client id; without a
// client id, the issuer must name one platform only.
func (db *DB) FindLTIPlatform(ctx context.Context, issuer, clientID string) (p *wod.LTIPlatform, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		q, args := `SELECT `+ltiPlatformColumns+` FROM lti_platforms WHERE issuer = $1`, []any{issuer}
		if clientID != "" {
			q, args = q+` AND client_id = $2`, append(args, clientID)
		}
		found, err := queryAll(tx, scanLTIPlatform, q+` ORDER BY id LIMIT 2`, args...)
		if err != nil {
			return err
		}
		switch len(found) {
		case 0:
			return wod.Errorf(wod.ENOTFOUND, "no LTI platform is registered for issuer %q and client id %q", issuer, clientID)
		case 1:
			p = found[0]
			return nil
		}
		return wod.Errorf(wod.EINVALID, "several LTI platforms share issuer %q: the launch must name its client id", issuer)
	})
	if err != nil {
		return nil, fmt.Errorf("find LTI platform: %w", err)
	}
	return p, nil
}

// FindLTIPlatformByID finds a platform by id.
func (db *DB) FindLTIPlatformByID(ctx context.Context, id int64) (p *wod.LTIPlatform, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		p, err = scanLTIPlatform(tx.queryRow(`SELECT `+ltiPlatformColumns+` FROM lti_platforms WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "no LTI platform %d", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find LTI platform: %w", err)
	}
	return p, nil
}

// CreateLTIPlatform registers a platform.
func (db *DB) CreateLTIPlatform(ctx context.Context, p *wod.LTIPlatform) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("create LTI platform: %w", err)
	}
	err := db.transact(ctx, func(tx *Tx) error {
		p.CreatedAt = tx.now
		err := tx.queryRow(`INSERT INTO lti_platforms (name, issuer, client_id, deployment_ids, auth_url, jwks_url, token_url,
			created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, p.Name, p.Issuer, p.ClientID,
			strings.Join(p.DeploymentIDs, ","), p.AuthURL, p.JWKSURL, p.TokenURL, tx.now).Scan(&p.ID)
		if isUniqueViolation(err, "") {
			return wod.Errorf(wod.ECONFLICT, "an LTI platform named %s, or with this issuer and client id, exists already", p.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create LTI platform: %w", err)
	}
	return nil
}

// DeleteLTIPlatform removes a platform and its pending launches.
func (db *DB) DeleteLTIPlatform(ctx context.Context, id int64) error {
	err := db.transact(ctx, func(tx *Tx) error {
		res, err := tx.exec(`DELETE FROM lti_platforms WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return wod.Errorf(wod.ENOTFOUND, "no LTI platform %d", id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete LTI platform: %w", err)
	}
	return nil
}

// SaveLTIState keeps a launch's login state, and drops expired ones.
func (db *DB) SaveLTIState(ctx context.Context, hash []byte, s *wod.LTIState) error {
	err := db.transact(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`DELETE FROM lti_states WHERE expires_at < $1`, tx.now); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO lti_states (hash, platform_id, nonce, target, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			hash, s.PlatformID, s.Nonce, s.Target, s.ExpiresAt.UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("save LTI state: %w", err)
	}
	return nil
}

// TakeLTIState returns a launch's login state and deletes it, so that it
// serves one launch only.
func (db *DB) TakeLTIState(ctx context.Context, hash []byte) (s *wod.LTIState, err error) {
	err = db.transact(ctx, func(tx *Tx) error {
		var st wod.LTIState
		err := tx.queryRow(`DELETE FROM lti_states WHERE hash = $1 RETURNING platform_id, nonce, target, expires_at`, hash).
			Scan(&st.PlatformID, &st.Nonce, &st.Target, &st.ExpiresAt)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !st.ExpiresAt.After(tx.now) {
			return wod.Errorf(wod.ENOTFOUND, "this launch is unknown or has expired: start it again from the course")
		}
		if err != nil {
			return err
		}
		st.ExpiresAt = st.ExpiresAt.UTC()
		s = &st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take LTI state: %w", err)
	}
	return s, nil
}

// SaveLTILaunch records where a registration reports its completion.
func (db *DB) SaveLTILaunch(ctx context.Context, l *wod.LTILaunch) error {
	err := db.transact(ctx, func(tx *Tx) error { return saveLTILaunch(tx, l) })
	if err != nil {
		return fmt.Errorf("save LTI launch: %w", err)
	}
	return nil
}

func saveLTILaunch(tx *Tx, l *wod.LTILaunch) error {
	_, err := tx.exec(`INSERT INTO lti_launches (registration_id, platform_id, subject, lineitem, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registration_id) DO UPDATE SET platform_id = excluded.platform_id,
		subject = excluded.subject, lineitem = excluded.lineitem`, l.RegistrationID, l.PlatformID, l.Subject, l.LineItem, tx.now)
	return err
}

// FindLTILaunch finds a registration's launch.
func (db *DB) FindLTILaunch(ctx context.Context, registrationID int64) (l *wod.LTILaunch, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		var x wod.LTILaunch
		err := tx.queryRow(`SELECT registration_id, platform_id, subject, lineitem FROM lti_launches WHERE registration_id = $1`,
			registrationID).Scan(&x.RegistrationID, &x.PlatformID, &x.Subject, &x.LineItem)
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "registration %d was not launched from a learning platform", registrationID)
		}
		if err != nil {
			return err
		}
		l = &x
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find LTI launch: %w", err)
	}
	return l, nil
}

// FindLTIRegistration finds the live registration the platform's learner
// launched (the newest, should a race have left two).
func (db *DB) FindLTIRegistration(ctx context.Context, platformID int64, subject string) (r *wod.Registration, err error) {
	err = db.readStatement(ctx, func(tx *Tx) error {
		r, err = scanRegistration(tx.queryRow(`SELECT `+registrationColumns+` FROM `+registrationFrom+`
			JOIN lti_launches lt ON lt.registration_id = r.id
			WHERE lt.platform_id = $1 AND lt.subject = $2 AND r.state IN `+liveSQL+` ORDER BY r.id DESC LIMIT 1`,
			platformID, subject))
		if errors.Is(err, sql.ErrNoRows) {
			return wod.Errorf(wod.ENOTFOUND, "the learner holds no live registration launched from this platform")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find LTI registration: %w", err)
	}
	return r, nil
}
