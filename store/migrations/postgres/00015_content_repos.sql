-- Content repositories (--content-repo) the server follows: the commit the
-- catalogue was imported from (agents deploy that one), the branch's head
-- at the last fetch, and the last error. A failed sync keeps the commit:
-- the last good content stays live.

-- +goose Up
CREATE TABLE content_repos (
    repo_key    TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    branch      TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL,
    commit_hash TEXT NOT NULL DEFAULT '',
    imported_at TIMESTAMPTZ,
    head        TEXT NOT NULL DEFAULT '',
    synced_at   TIMESTAMPTZ,
    error       TEXT NOT NULL DEFAULT '',
    error_at    TIMESTAMPTZ
);

-- +goose Down
DROP TABLE content_repos;
