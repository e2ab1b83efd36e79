-- The warm pool (wod.WarmPool): seats prepared for a workshop before anyone
-- registers. A seat gains the states warming (a warm job prepares it) and
-- warm (ready for the workshop's next participant), the workshop it is kept
-- for, its password (encrypted as registrations' are), the content version
-- it was made from, its warm job and when it became warm. Workshops gain
-- their warm setting (a number, or auto) and content version. A seat held
-- by two live registrations stays impossible by the index
-- registrations_live_seat (00001), warm seats or not.

-- +goose Up
ALTER TABLE seats DROP CONSTRAINT seats_state_check;
ALTER TABLE seats ADD CONSTRAINT seats_state_check CHECK (state IN ('free', 'assigned', 'dirty', 'warming', 'warm'));
ALTER TABLE seats ADD COLUMN warm_workshop_id BIGINT REFERENCES workshops (id) ON DELETE SET NULL;
ALTER TABLE seats ADD COLUMN warm_password_enc BYTEA;
ALTER TABLE seats ADD COLUMN warm_content_version TEXT NOT NULL DEFAULT '';
ALTER TABLE seats ADD COLUMN warm_job_id BIGINT;
ALTER TABLE seats ADD COLUMN warmed_at TIMESTAMPTZ;
CREATE INDEX seats_warm ON seats (warm_workshop_id, state);
ALTER TABLE workshops ADD COLUMN warm TEXT NOT NULL DEFAULT '0';
ALTER TABLE workshops ADD COLUMN content_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE workshops DROP COLUMN content_version;
ALTER TABLE workshops DROP COLUMN warm;
UPDATE seats SET state = 'free', registration_id = NULL WHERE state IN ('warming', 'warm');
DROP INDEX seats_warm;
ALTER TABLE seats DROP COLUMN warmed_at;
ALTER TABLE seats DROP COLUMN warm_job_id;
ALTER TABLE seats DROP COLUMN warm_content_version;
ALTER TABLE seats DROP COLUMN warm_password_enc;
ALTER TABLE seats DROP COLUMN warm_workshop_id;
ALTER TABLE seats DROP CONSTRAINT seats_state_check;
ALTER TABLE seats ADD CONSTRAINT seats_state_check CHECK (state IN ('free', 'assigned', 'dirty'));
