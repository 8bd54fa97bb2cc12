-- +goose Up
-- Per-person data keys, wrapped by the master key. Not a read model: never rebuilt or dropped by a
-- replay. Deleting a row is the crypto-shredding of that person's personal fields in the log.
CREATE TABLE person_keys (
    person_id  TEXT PRIMARY KEY,
    wrapped    BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE person_keys;
