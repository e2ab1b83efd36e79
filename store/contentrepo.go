package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wod-dev/wod"
)

var _ wod.ContentRepoService = (*DB)(nil)

// FindContentRepos lists the content repositories in overlay order.
func (db *DB) FindContentRepos(ctx context.Context) (repos []*wod.ContentRepo, err error) {
	err = db.read(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT repo_key, url, branch, position, commit_hash, imported_at, head, synced_at,
			error, error_at FROM content_repos ORDER BY position, repo_key`)
		if err != nil {
			return err
		}
		defer rows.Close()
		repos = nil
		for rows.Next() {
			var r wod.ContentRepo
			var imported, synced, errAt sql.NullTime
			if err := rows.Scan(&r.Key, &r.URL, &r.Branch, &r.Position, &r.Commit, &imported, &r.Head, &synced,
				&r.Error, &errAt); err != nil {
				return err
			}
			r.ImportedAt, r.SyncedAt, r.ErrorAt = timePtr(imported), timePtr(synced), timePtr(errAt)
			repos = append(repos, &r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: content repositories: %w", err)
	}
	return repos, nil
}

// SaveContentRepos replaces the recorded repositories with repos (a
// repository no longer configured goes) and queues the alert, if any, in
// the same transaction.
func (db *DB) SaveContentRepos(ctx context.Context, repos []*wod.ContentRepo, alert *wod.Mail) error {
	err := db.transact(ctx, func(tx *Tx) error {
		if err := saveContentRepos(tx, repos); err != nil {
			return err
		}
		if alert != nil {
			return insertMail(tx, alert)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: saving the content repositories: %w", err)
	}
	return nil
}

// saveContentRepos replaces the recorded repositories with repos.
func saveContentRepos(tx *Tx, repos []*wod.ContentRepo) error {
	if _, err := tx.exec(`DELETE FROM content_repos`); err != nil {
		return err
	}
	for _, r := range repos {
		if _, err := tx.exec(`INSERT INTO content_repos (repo_key, url, branch, position, commit_hash, imported_at,
			head, synced_at, error, error_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			r.Key, r.URL, r.Branch, r.Position, r.Commit, nullTime(r.ImportedAt), r.Head, nullTime(r.SyncedAt),
			r.Error, nullTime(r.ErrorAt)); err != nil {
			return err
		}
	}
	return nil
}
