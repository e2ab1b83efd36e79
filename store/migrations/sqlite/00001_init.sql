-- The whole domain of wod. Kept column for column equal to
-- ../postgres/00001_init.sql (a test compares the two schemas).

-- +goose Up
CREATE TABLE locations (
    id               INTEGER PRIMARY KEY,
    name             TEXT      NOT NULL UNIQUE,
    hub_url          TEXT      NOT NULL DEFAULT '',
    base_student_id  INTEGER   NOT NULL DEFAULT 0,
    students         INTEGER   NOT NULL,
    agent_token_hash BLOB,
    last_heartbeat   TIMESTAMP,
    health           TEXT      NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE seats (
    id              INTEGER PRIMARY KEY,
    location_id     INTEGER   NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    number          INTEGER   NOT NULL,
    state           TEXT      NOT NULL DEFAULT 'free' CHECK (state IN ('free', 'assigned', 'dirty')),
    registration_id BIGINT,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (location_id, number)
);
CREATE INDEX seats_free ON seats (location_id, state, number);

CREATE TABLE workshops (
    id               INTEGER PRIMARY KEY,
    slug             TEXT      NOT NULL UNIQUE,
    title            TEXT      NOT NULL,
    description      TEXT      NOT NULL DEFAULT '',
    categories       TEXT      NOT NULL DEFAULT '[]',
    duration_seconds BIGINT    NOT NULL,
    capacity         INTEGER   NOT NULL,
    seat_min         INTEGER   NOT NULL,
    seat_max         INTEGER   NOT NULL,
    location_id      INTEGER   NOT NULL REFERENCES locations (id),
    active           BOOLEAN   NOT NULL DEFAULT FALSE,
    beta             BOOLEAN   NOT NULL DEFAULT FALSE,
    priority         INTEGER   NOT NULL DEFAULT 0,
    reset            BOOLEAN   NOT NULL DEFAULT FALSE,
    ldap             BOOLEAN   NOT NULL DEFAULT FALSE,
    varpass          BOOLEAN   NOT NULL DEFAULT FALSE,
    compile          TEXT      NOT NULL DEFAULT '[]',
    appliance        TEXT      NOT NULL DEFAULT 'none',
    session_type     TEXT      NOT NULL DEFAULT 'workshop',
    presenter        TEXT      NOT NULL DEFAULT '',
    presenter_role   TEXT      NOT NULL DEFAULT '',
    avatar           TEXT      NOT NULL DEFAULT '',
    image            TEXT      NOT NULL DEFAULT '',
    badge_image      TEXT      NOT NULL DEFAULT '',
    replay_id        INTEGER   NOT NULL DEFAULT 0,
    replay_link      TEXT      NOT NULL DEFAULT '',
    prerequisite     TEXT      NOT NULL DEFAULT '',
    content_dir      TEXT      NOT NULL DEFAULT '',
    overrides        TEXT      NOT NULL DEFAULT '[]',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE registrations (
    id             INTEGER PRIMARY KEY,
    workshop_id    INTEGER   NOT NULL REFERENCES workshops (id),
    name           TEXT      NOT NULL,
    email          TEXT      NOT NULL,
    company        TEXT      NOT NULL DEFAULT '',
    state          TEXT      NOT NULL CHECK (state IN ('pending', 'ready', 'expiring', 'ending', 'done', 'failed')),
    seat_id        INTEGER REFERENCES seats (id),
    location_id    INTEGER   NOT NULL REFERENCES locations (id),
    student_number INTEGER   NOT NULL DEFAULT 0,
    password_enc   BLOB,
    completion     INTEGER,
    error          TEXT      NOT NULL DEFAULT '',
    client_ip      TEXT      NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    ready_at       TIMESTAMP,
    ends_at        TIMESTAMP,
    ended_at       TIMESTAMP,
    updated_at     TIMESTAMP NOT NULL
);
-- One live registration per e-mail address, enforced by the database itself.
CREATE UNIQUE INDEX registrations_live_email ON registrations (email) WHERE state IN ('pending', 'ready', 'expiring');
-- A seat is never given to two registrations that still hold it.
CREATE UNIQUE INDEX registrations_live_seat ON registrations (seat_id) WHERE state IN ('pending', 'ready', 'expiring', 'ending');
CREATE INDEX registrations_workshop_state ON registrations (workshop_id, state);
CREATE INDEX registrations_state_created ON registrations (state, created_at);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT      NOT NULL,
    registration_id INTEGER REFERENCES registrations (id) ON DELETE CASCADE,
    location_id     INTEGER REFERENCES locations (id) ON DELETE CASCADE,
    state           TEXT      NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    run_at          TIMESTAMP NOT NULL,
    attempts        INTEGER   NOT NULL DEFAULT 0,
    max_attempts    INTEGER   NOT NULL,
    lease_until     TIMESTAMP,
    leased_by       TEXT      NOT NULL DEFAULT '',
    last_error      TEXT      NOT NULL DEFAULT '',
    args            TEXT      NOT NULL DEFAULT '{}',
    result          TEXT      NOT NULL DEFAULT '{}',
    output          TEXT      NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
-- The engine reads only what is due: no scan of the history.
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_registration_kind ON jobs (registration_id, kind) WHERE registration_id IS NOT NULL;

CREATE TABLE mails (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER REFERENCES registrations (id) ON DELETE CASCADE,
    kind            TEXT      NOT NULL,
    recipient       TEXT      NOT NULL,
    subject         TEXT      NOT NULL,
    text_body       TEXT      NOT NULL,
    html_body       TEXT      NOT NULL DEFAULT '',
    state           TEXT      NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'kept')),
    attempts        INTEGER   NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    last_error      TEXT      NOT NULL DEFAULT '',
    sent_at         TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
-- No mail of a kind is ever queued twice for a registration.
CREATE UNIQUE INDEX mails_registration_kind ON mails (registration_id, kind) WHERE registration_id IS NOT NULL;
CREATE INDEX mails_due ON mails (state, next_attempt_at);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT      NOT NULL UNIQUE,
    email         TEXT      NOT NULL DEFAULT '',
    role          TEXT      NOT NULL CHECK (role IN ('admin', 'moderator')),
    password_hash TEXT      NOT NULL,
    disabled      BOOLEAN   NOT NULL DEFAULT FALSE,
    last_login_at TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT      NOT NULL DEFAULT '',
    role         TEXT      NOT NULL CHECK (role IN ('admin', 'moderator')),
    prefix       TEXT      NOT NULL,
    hash         BLOB      NOT NULL UNIQUE,
    created_by   TEXT      NOT NULL DEFAULT '',
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    hash       BLOB      PRIMARY KEY,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE login_failures (
    key          TEXT      PRIMARY KEY,
    failures     INTEGER   NOT NULL,
    window_start TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      TIMESTAMP NOT NULL,
    actor   TEXT      NOT NULL,
    kind    TEXT      NOT NULL,
    subject TEXT      NOT NULL DEFAULT '',
    detail  TEXT      NOT NULL DEFAULT ''
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_subject ON events (subject, at);

CREATE TABLE badges_earned (
    email           TEXT      NOT NULL,
    level           INTEGER   NOT NULL,
    registration_id INTEGER REFERENCES registrations (id) ON DELETE SET NULL,
    earned_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (email, level)
);

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY,
    message    TEXT      NOT NULL,
    level      TEXT      NOT NULL DEFAULT 'info',
    starts_at  TIMESTAMP,
    ends_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE announcements;
DROP TABLE badges_earned;
DROP TABLE events;
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE users;
DROP TABLE mails;
DROP TABLE jobs;
DROP TABLE registrations;
DROP TABLE workshops;
DROP TABLE seats;
DROP TABLE locations;
