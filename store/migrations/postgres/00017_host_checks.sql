-- The last verdict of each host check (wod check, run every --check-every)
-- per scope: "platform" for the server's own, "location:NAME" for an
-- agent's. since is when the check entered its status: a failure is
-- announced when it starts, and the dashboard says since when it holds.

-- +goose Up
CREATE TABLE host_checks (
    scope      TEXT NOT NULL,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    since      TIMESTAMPTZ NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, name)
);

-- +goose Down
DROP TABLE host_checks;
