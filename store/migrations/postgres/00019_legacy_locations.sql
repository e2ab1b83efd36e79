-- A location is served by a wod agent or, with kind 'legacy', by an
-- original wod-backend the server drives with command mails (issue 12,
-- part 2): the backend's command mail address and its Postfix.

-- +goose Up
ALTER TABLE locations ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
ALTER TABLE locations ADD COLUMN backend_email TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN backend_smtp TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE locations DROP COLUMN backend_smtp;
ALTER TABLE locations DROP COLUMN backend_email;
ALTER TABLE locations DROP COLUMN kind;
