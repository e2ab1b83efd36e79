-- LTI 1.3: the learning platforms (Moodle, Canvas…) that launch wod's
-- workshops, and the login states between a launch's two requests (kept in
-- the database, so that any server replica can finish a launch).

-- +goose Up
CREATE TABLE lti_platforms (
    id             INTEGER PRIMARY KEY,
    name           TEXT      NOT NULL UNIQUE,
    issuer         TEXT      NOT NULL,
    client_id      TEXT      NOT NULL,
    deployment_ids TEXT      NOT NULL DEFAULT '',
    auth_url       TEXT      NOT NULL,
    jwks_url       TEXT      NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (issuer, client_id)
);

CREATE TABLE lti_states (
    hash        BLOB      PRIMARY KEY,
    platform_id INTEGER   NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    nonce       TEXT      NOT NULL,
    target      TEXT      NOT NULL DEFAULT '',
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX lti_states_expires ON lti_states (expires_at);

-- +goose Down
DROP TABLE lti_states;
DROP TABLE lti_platforms;
