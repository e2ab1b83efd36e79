-- The work a participant leaves at the end: the workshop's folder of their
-- home, zipped by the agent before the wipe, kept for download for a while
-- (--notebook-retention).

-- +goose Up
CREATE TABLE registration_notebooks (
    registration_id INTEGER PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
    data            BLOB   NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX registration_notebooks_created ON registration_notebooks (created_at);

-- +goose Down
DROP TABLE registration_notebooks;
