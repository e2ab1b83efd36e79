-- The waiting line: a participant who finds a workshop full may wait for a
-- seat. A waiting registration holds its e-mail address (one live
-- registration per address) but no seat; one that leaves the line without
-- a seat ends as 'left'. waiting_since orders the line and measures the
-- time spent in it; seated_at is when the line handed over a seat;
-- provision_seconds is the watchdog's delay the handover schedules.

-- +goose Up
ALTER TABLE registrations DROP CONSTRAINT registrations_state_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_state_check
    CHECK (state IN ('pending', 'ready', 'expiring', 'ending', 'done', 'failed', 'waiting', 'left'));
ALTER TABLE registrations ADD COLUMN waiting_since TIMESTAMPTZ;
ALTER TABLE registrations ADD COLUMN seated_at TIMESTAMPTZ;
ALTER TABLE registrations ADD COLUMN provision_seconds INTEGER NOT NULL DEFAULT 0;
DROP INDEX registrations_live_email;
CREATE UNIQUE INDEX registrations_live_email ON registrations (email) WHERE state IN ('pending', 'ready', 'expiring', 'waiting');
CREATE INDEX registrations_waiting ON registrations (workshop_id, id) WHERE state = 'waiting';

-- +goose Down
DROP INDEX registrations_waiting;
UPDATE registrations SET state = 'failed', error = 'left the waiting line (schema downgraded)' WHERE state IN ('waiting', 'left');
DROP INDEX registrations_live_email;
CREATE UNIQUE INDEX registrations_live_email ON registrations (email) WHERE state IN ('pending', 'ready', 'expiring');
ALTER TABLE registrations DROP COLUMN provision_seconds;
ALTER TABLE registrations DROP COLUMN seated_at;
ALTER TABLE registrations DROP COLUMN waiting_since;
ALTER TABLE registrations DROP CONSTRAINT registrations_state_check;
ALTER TABLE registrations ADD CONSTRAINT registrations_state_check
    CHECK (state IN ('pending', 'ready', 'expiring', 'ending', 'done', 'failed'));
