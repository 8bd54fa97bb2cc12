-- +goose Up
-- The code version each projection's tables were built with. A projection whose code version
-- changed (or that is new) is rebuilt from the log into fresh tables at start and swapped in.
CREATE TABLE projection_versions (
    name    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

-- +goose Down
DROP TABLE projection_versions;
