-- The warm pool (wod.WarmPool): seats prepared for a workshop before anyone
-- registers. A seat gains the states warming (a warm job prepares it) and
-- warm (ready for the workshop's next participant), the workshop it is kept
-- for, its password (encrypted as registrations' are), the content version
-- it was made from, its warm job and when it became warm. Workshops gain
-- their warm setting ('' for none, a number, or auto) and content version.
--
-- SQLite cannot change a CHECK constraint in place: the seats table is made
-- again (SQLite's documented procedure, with foreign keys off, which a
-- transaction cannot do: hence no goose transaction, and one of our own).
-- A seat held by two live registrations stays impossible by the index
-- registrations_live_seat (00001), warm seats or not.

-- +goose NO TRANSACTION
-- +goose Up
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE seats_new (
    id                   INTEGER PRIMARY KEY,
    location_id          INTEGER   NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    number               INTEGER   NOT NULL,
    state                TEXT      NOT NULL DEFAULT 'free' CHECK (state IN ('free', 'assigned', 'dirty', 'warming', 'warm')),
    registration_id      BIGINT,
    updated_at           TIMESTAMP NOT NULL,
    warm_workshop_id     INTEGER REFERENCES workshops (id) ON DELETE SET NULL,
    warm_password_enc    BLOB,
    warm_content_version TEXT      NOT NULL DEFAULT '',
    warm_job_id          BIGINT,
    warmed_at            TIMESTAMP,
    UNIQUE (location_id, number)
);
INSERT INTO seats_new (id, location_id, number, state, registration_id, updated_at)
    SELECT id, location_id, number, state, registration_id, updated_at FROM seats;
DROP TABLE seats;
ALTER TABLE seats_new RENAME TO seats;
CREATE INDEX seats_free ON seats (location_id, state, number);
CREATE INDEX seats_warm ON seats (warm_workshop_id, state);
ALTER TABLE workshops ADD COLUMN warm TEXT NOT NULL DEFAULT '0';
ALTER TABLE workshops ADD COLUMN content_version TEXT NOT NULL DEFAULT '';
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN;
ALTER TABLE workshops DROP COLUMN content_version;
ALTER TABLE workshops DROP COLUMN warm;
UPDATE seats SET state = 'free', registration_id = NULL WHERE state IN ('warming', 'warm');
CREATE TABLE seats_old (
    id              INTEGER PRIMARY KEY,
    location_id     INTEGER   NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    number          INTEGER   NOT NULL,
    state           TEXT      NOT NULL DEFAULT 'free' CHECK (state IN ('free', 'assigned', 'dirty')),
    registration_id BIGINT,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (location_id, number)
);
INSERT INTO seats_old (id, location_id, number, state, registration_id, updated_at)
    SELECT id, location_id, number, state, registration_id, updated_at FROM seats;
DROP TABLE seats;
ALTER TABLE seats_old RENAME TO seats;
CREATE INDEX seats_free ON seats (location_id, state, number);
COMMIT;
PRAGMA foreign_keys = ON;
