-- Claims read the jobs queued or running: an agent's, those of its
-- location due now or whose lease ran out; the timers', those of their
-- kinds. The index on (state, run_at) made each claim walk the queued
-- entries of every location and kind with a past time (on PostgreSQL, with
-- the entries their updates leave behind until a vacuum: each step of a
-- job moves it to another state), ~1 ms a claim after 1 000 participants
-- (wod-bench -mode locations). These partial indexes hold one location's,
-- or one kind's, jobs together; a running job's lease end is what makes it
-- due again.

-- +goose Up
CREATE INDEX jobs_queued_location ON jobs (location_id, run_at) WHERE state = 'queued';
CREATE INDEX jobs_queued_kind ON jobs (kind, run_at) WHERE state = 'queued';
CREATE INDEX jobs_running_kind ON jobs (kind, lease_until) WHERE state = 'running';

-- +goose Down
DROP INDEX jobs_running_kind;
DROP INDEX jobs_queued_kind;
DROP INDEX jobs_queued_location;
