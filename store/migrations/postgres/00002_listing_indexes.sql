-- Indexes that let the catalogue and the operators' pages aggregate
-- registrations from the index alone (docs/benchmarks.md: pages with 10 000
-- registrations). Kept equal in both dialects.

-- +goose Up
-- Popularity: distinct participants per workshop.
CREATE INDEX registrations_workshop_email ON registrations (workshop_id, email);
-- Statistics per workshop over a period, with the completion histogram.
CREATE INDEX registrations_workshop_created ON registrations (workshop_id, created_at, state, completion);
-- Registrations per day, newest first listings.
CREATE INDEX registrations_created ON registrations (created_at, workshop_id);

-- +goose Down
DROP INDEX registrations_created;
DROP INDEX registrations_workshop_created;
DROP INDEX registrations_workshop_email;
