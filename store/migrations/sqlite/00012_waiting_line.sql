-- The waiting line: a participant who finds a workshop full may wait for a
-- seat. A waiting registration holds its e-mail address (one live
-- registration per address) but no seat; one that leaves the line without
-- a seat ends as 'left'. waiting_since orders the line and measures the
-- time spent in it; seated_at is when the line handed over a seat;
-- provision_seconds is the watchdog's delay the handover schedules.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (sqlite.org/lang_altertable.html, "other kinds of table schema changes"),
-- with foreign keys off so that dropping the old table cascades to nothing,
-- in one transaction of its own (PRAGMA foreign_keys is ignored inside one).

-- +goose NO TRANSACTION
-- +goose Up
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE registrations_new (
    id                INTEGER PRIMARY KEY,
    workshop_id       INTEGER   NOT NULL REFERENCES workshops (id),
    name              TEXT      NOT NULL,
    email             TEXT      NOT NULL,
    company           TEXT      NOT NULL DEFAULT '',
    state             TEXT      NOT NULL CHECK (state IN ('pending', 'ready', 'expiring', 'ending', 'done', 'failed', 'waiting', 'left')),
    seat_id           INTEGER REFERENCES seats (id),
    location_id       INTEGER   NOT NULL REFERENCES locations (id),
    student_number    INTEGER   NOT NULL DEFAULT 0,
    password_enc      BLOB,
    completion        INTEGER,
    error             TEXT      NOT NULL DEFAULT '',
    client_ip         TEXT      NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    ready_at          TIMESTAMP,
    ends_at           TIMESTAMP,
    ended_at          TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL,
    rehearsal_id      INTEGER,
    waiting_since     TIMESTAMP,
    seated_at         TIMESTAMP,
    provision_seconds INTEGER   NOT NULL DEFAULT 0
);
INSERT INTO registrations_new (id, workshop_id, name, email, company, state, seat_id, location_id, student_number,
    password_enc, completion, error, client_ip, created_at, ready_at, ends_at, ended_at, updated_at, rehearsal_id)
SELECT id, workshop_id, name, email, company, state, seat_id, location_id, student_number,
    password_enc, completion, error, client_ip, created_at, ready_at, ends_at, ended_at, updated_at, rehearsal_id
FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_new RENAME TO registrations;
CREATE UNIQUE INDEX registrations_live_email ON registrations (email) WHERE state IN ('pending', 'ready', 'expiring', 'waiting');
CREATE UNIQUE INDEX registrations_live_seat ON registrations (seat_id) WHERE state IN ('pending', 'ready', 'expiring', 'ending');
CREATE INDEX registrations_workshop_state ON registrations (workshop_id, state);
CREATE INDEX registrations_state_created ON registrations (state, created_at);
CREATE INDEX registrations_workshop_email ON registrations (workshop_id, email);
CREATE INDEX registrations_workshop_created ON registrations (workshop_id, created_at, state, completion);
CREATE INDEX registrations_created ON registrations (created_at, workshop_id);
CREATE INDEX registrations_rehearsal ON registrations (rehearsal_id) WHERE rehearsal_id IS NOT NULL;
CREATE INDEX registrations_waiting ON registrations (workshop_id, id) WHERE state = 'waiting';
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
UPDATE registrations SET state = 'failed', error = 'left the waiting line (schema downgraded)' WHERE state IN ('waiting', 'left');
CREATE TABLE registrations_old (
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
    updated_at     TIMESTAMP NOT NULL,
    rehearsal_id   INTEGER
);
INSERT INTO registrations_old SELECT id, workshop_id, name, email, company, state, seat_id, location_id, student_number,
    password_enc, completion, error, client_ip, created_at, ready_at, ends_at, ended_at, updated_at, rehearsal_id
FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_old RENAME TO registrations;
CREATE UNIQUE INDEX registrations_live_email ON registrations (email) WHERE state IN ('pending', 'ready', 'expiring');
CREATE UNIQUE INDEX registrations_live_seat ON registrations (seat_id) WHERE state IN ('pending', 'ready', 'expiring', 'ending');
CREATE INDEX registrations_workshop_state ON registrations (workshop_id, state);
CREATE INDEX registrations_state_created ON registrations (state, created_at);
CREATE INDEX registrations_workshop_email ON registrations (workshop_id, email);
CREATE INDEX registrations_workshop_created ON registrations (workshop_id, created_at, state, completion);
CREATE INDEX registrations_created ON registrations (created_at, workshop_id);
CREATE INDEX registrations_rehearsal ON registrations (rehearsal_id) WHERE rehearsal_id IS NOT NULL;
COMMIT;
PRAGMA foreign_keys = ON;
