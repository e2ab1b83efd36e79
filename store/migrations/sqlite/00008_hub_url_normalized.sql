-- A hub URL is stored without surrounding space or trailing slashes
-- (wod.Location.Normalize, applied whenever a location is saved), so that
-- the paths appended to it never double a slash. This brings the rows saved
-- before that rule into line.

-- +goose Up
UPDATE locations SET hub_url = RTRIM(TRIM(hub_url), '/') WHERE hub_url <> RTRIM(TRIM(hub_url), '/');

-- +goose Down
-- Nothing to undo: the trimmed URLs name the same hubs.
SELECT 1;
