-- A launch finds the learner's live registration by the platform and the
-- learner's id there (sub), never by e-mail: every launch now records them,
-- with or without a grade book.

-- +goose Up
CREATE INDEX lti_launches_subject ON lti_launches (platform_id, subject);

-- +goose Down
DROP INDEX lti_launches_subject;
