-- A workshop may be offered at several locations (issue 11, part 3). The
-- row at position 0 is workshops.location_id, kept as the first location
-- so that what reads only that column still sees where the workshop is.
-- A location may use its own seat range for the workshop (two locations
-- on one machine cannot share student account names).

-- +goose Up
CREATE TABLE workshop_locations (
    workshop_id INTEGER NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    location_id INTEGER NOT NULL REFERENCES locations (id),
    position    INTEGER NOT NULL,
    -- The seat range at this location; NULL: the workshop's own.
    seat_min    INTEGER,
    seat_max    INTEGER,
    PRIMARY KEY (workshop_id, location_id)
);
CREATE INDEX workshop_locations_location ON workshop_locations (location_id);
INSERT INTO workshop_locations (workshop_id, location_id, position) SELECT id, location_id, 0 FROM workshops;

-- +goose Down
DROP TABLE workshop_locations;
