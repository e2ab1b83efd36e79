-- What each student of a workshop may use (wod.yml's memory, cpus, tasks
-- and disk); 0 is unset: the agent's site default applies.

-- +goose Up
ALTER TABLE workshops ADD COLUMN memory_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workshops ADD COLUMN cpus DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE workshops ADD COLUMN tasks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workshops ADD COLUMN disk_bytes BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE workshops DROP COLUMN disk_bytes;
ALTER TABLE workshops DROP COLUMN tasks;
ALTER TABLE workshops DROP COLUMN cpus;
ALTER TABLE workshops DROP COLUMN memory_bytes;
