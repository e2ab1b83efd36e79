-- The Jupyter kernels a location's hub host has, as its agent last
-- reported them: a JSON array of kernelspec names. NULL is an agent that
-- never said (unknown), which is not an empty list (none).

-- +goose Up
ALTER TABLE locations ADD COLUMN kernels TEXT;

-- +goose Down
ALTER TABLE locations DROP COLUMN kernels;
