-- LTI 1.3: the learning platforms (Moodle, Canvas…) that launch wod's
-- workshops, the login states between a launch's two requests (kept in the
-- database, so that any server replica can finish a launch), and where the
-- launched registrations report their completion.

-- +goose Up
CREATE TABLE lti_platforms (
    id             INTEGER PRIMARY KEY,
    name           TEXT      NOT NULL UNIQUE,
    issuer         TEXT      NOT NULL,
    client_id      TEXT      NOT NULL,
    deployment_ids TEXT      NOT NULL DEFAULT '',
    auth_url       TEXT      NOT NULL,
    jwks_url       TEXT      NOT NULL,
    token_url      TEXT      NOT NULL DEFAULT '',
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

-- Where a launched registration's completion goes: the gradebook column
-- (line item) of the activity, for the learner the platform knows as subject.
CREATE TABLE lti_launches (
    registration_id INTEGER   PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
    platform_id     INTEGER   NOT NULL REFERENCES lti_platforms (id) ON DELETE CASCADE,
    subject         TEXT      NOT NULL,
    lineitem        TEXT      NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE lti_launches;
DROP TABLE lti_states;
DROP TABLE lti_platforms;
