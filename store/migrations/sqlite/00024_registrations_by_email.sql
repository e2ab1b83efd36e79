-- A participant's finished workshops (the badges of the goodbye mail, at
-- every cleanup) and the registrations listed by e-mail were found through
-- the index on state: every finished registration was read to find one
-- person's (O(all done) per cleanup, ~80 pages a cleanup after 2 000
-- participants in wod-bench -mode locations).

-- +goose Up
CREATE INDEX registrations_email_state ON registrations (email, state);

-- +goose Down
DROP INDEX registrations_email_state;
