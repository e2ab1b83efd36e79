-- Rehearsals: a robot participant runs every notebook of a workshop, cell by
-- cell, and the result is kept per workshop. The robot's seat is an ordinary
-- registration marked with its rehearsal (registrations.rehearsal_id), so
-- that it walks the same transitions as a participant's while stats,
-- badges and the catalogue leave it out.

-- +goose Up
CREATE TABLE rehearsals (
    id           INTEGER PRIMARY KEY,
    workshop_id  INTEGER NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('running', 'passed', 'failed')),
    requested_by TEXT NOT NULL DEFAULT '',
    completion   INTEGER,
    error        TEXT NOT NULL DEFAULT '',
    -- The notebooks and their cells as JSON ([]wod.NotebookRun).
    notebooks    TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP
);
CREATE INDEX rehearsals_workshop ON rehearsals (workshop_id, id);
CREATE INDEX rehearsals_running ON rehearsals (state, updated_at);
ALTER TABLE registrations ADD COLUMN rehearsal_id INTEGER;
CREATE INDEX registrations_rehearsal ON registrations (rehearsal_id) WHERE rehearsal_id IS NOT NULL;

-- +goose Down
DROP INDEX registrations_rehearsal;
ALTER TABLE registrations DROP COLUMN rehearsal_id;
DROP TABLE rehearsals;
