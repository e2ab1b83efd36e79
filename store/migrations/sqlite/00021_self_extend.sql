-- Participants extend their own session (issue 13 part 5). A workshop gains
-- how much time a participant may add once (0: none); a registration gains
-- whether its participant used that once. A mail gains a key beside its
-- kind: a reminder is kept once per end time (key: the end), so that a
-- session extended after its reminder gets a new one, and the one-per-kind
-- rule becomes one per kind and key (mails of other kinds keep key '').

-- +goose Up
ALTER TABLE workshops ADD COLUMN extend_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN self_extended BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE mails ADD COLUMN mail_key TEXT NOT NULL DEFAULT '';
DROP INDEX mails_registration_kind;
CREATE UNIQUE INDEX mails_registration_kind ON mails (registration_id, kind, mail_key) WHERE registration_id IS NOT NULL;

-- +goose Down
DELETE FROM mails WHERE registration_id IS NOT NULL AND id NOT IN
    (SELECT MIN(id) FROM mails WHERE registration_id IS NOT NULL GROUP BY registration_id, kind);
DROP INDEX mails_registration_kind;
CREATE UNIQUE INDEX mails_registration_kind ON mails (registration_id, kind) WHERE registration_id IS NOT NULL;
ALTER TABLE mails DROP COLUMN mail_key;
ALTER TABLE registrations DROP COLUMN self_extended;
ALTER TABLE workshops DROP COLUMN extend_seconds;
