-- Rows imported from an original api-db (wod import-legacy): which legacy
-- row became which wod row, so that a second import skips what the first
-- one brought over instead of duplicating history.

-- +goose Up
CREATE TABLE legacy_imports (
    kind      TEXT   NOT NULL,
    legacy_id BIGINT NOT NULL,
    wod_id    BIGINT NOT NULL,
    PRIMARY KEY (kind, legacy_id)
);

-- +goose Down
DROP TABLE legacy_imports;
