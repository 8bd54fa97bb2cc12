-- +goose Up
-- Deletion requests and their items; every column comes from event data.
CREATE TABLE deletions (
    deletion_id     TEXT PRIMARY KEY,
    state           TEXT NOT NULL,
    group_id        TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT '',
    callback_url    TEXT NOT NULL DEFAULT '',
    recorded        INTEGER NOT NULL DEFAULT 0,
    fully_recorded  INTEGER NOT NULL DEFAULT 0,
    pending         INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP,
    version         INTEGER NOT NULL
);
CREATE INDEX deletions_running ON deletions (state) WHERE state = 'running';

CREATE TABLE deletion_items (
    deletion_id   TEXT NOT NULL,
    position      INTEGER NOT NULL,
    person_id     TEXT NOT NULL,
    state         TEXT NOT NULL,
    saga_id       TEXT NOT NULL DEFAULT '',
    error_code    TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    error_step    TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (deletion_id, position)
);
CREATE INDEX deletion_items_person ON deletion_items (person_id, deletion_id, state);
CREATE INDEX deletion_items_state ON deletion_items (deletion_id, state, position);

-- Persons deleted, for `erasure verify` and the audit: IDs are pseudonymous keys, kept as the
-- record of what was deleted.
CREATE TABLE deleted_persons (
    person_id   TEXT NOT NULL,
    deletion_id TEXT NOT NULL,
    deleted_at  TIMESTAMP NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
);

-- +goose Down
DROP TABLE deleted_persons;
DROP TABLE deletion_items;
DROP TABLE deletions;
