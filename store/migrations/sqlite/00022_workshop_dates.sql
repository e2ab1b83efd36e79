-- Workshop dates (issue 11 part 2): a workshop may open for registration at
-- a time and close at another (both optional: NULL is no bound). Bookings
-- and the waiting line obey them in the booking transaction; sessions
-- already running are not cut by closing.

-- +goose Up
ALTER TABLE workshops ADD COLUMN opens_at TIMESTAMP;
ALTER TABLE workshops ADD COLUMN closes_at TIMESTAMP;

-- +goose Down
ALTER TABLE workshops DROP COLUMN closes_at;
ALTER TABLE workshops DROP COLUMN opens_at;
