-- Operators dismiss failed jobs they have dealt with, so that the dashboard
-- shows the failures still to look at; the job keeps its state and error.
-- Guard events are read by kind, newest first.

-- +goose Up
ALTER TABLE jobs ADD COLUMN dismissed_at TIMESTAMP;
CREATE INDEX events_kind ON events (kind, id);

-- +goose Down
DROP INDEX events_kind;
ALTER TABLE jobs DROP COLUMN dismissed_at;
