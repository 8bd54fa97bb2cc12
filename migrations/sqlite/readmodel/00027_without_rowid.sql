-- +goose Up
-- The tables a deletion writes row by row keyed by the person (or the request) become WITHOUT
-- ROWID: the primary key is the table's one B-tree, instead of a rowid table beside an index of
-- the key. A face's rows were four B-trees (the rowid table, face_id's index, person_id's,
-- photo_key's) and a bulk deletion's projection spent most of its time changing pages of all
-- four at random places; now a person's rows sit together under its key. Faces are keyed by
-- (person_id, face_id): every query names the person, and face IDs are random per face.
-- The persons table keeps its rowid: its sealed fields can be larger than WITHOUT ROWID suits.
-- PostgreSQL's heap tables need no such change (a delete there marks the row, not the index).

CREATE TABLE memberships_k (
    person_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    added_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, group_id)
) WITHOUT ROWID;
INSERT INTO memberships_k (person_id, group_id, added_at) SELECT person_id, group_id, added_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_k RENAME TO memberships;
CREATE INDEX memberships_group ON memberships (group_id, person_id);

CREATE TABLE faces_k (
    face_id   TEXT NOT NULL,
    person_id TEXT NOT NULL,
    photo_key TEXT NOT NULL,
    added_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, face_id)
) WITHOUT ROWID;
INSERT INTO faces_k (face_id, person_id, photo_key, added_at) SELECT face_id, person_id, photo_key, added_at FROM faces;
DROP TABLE faces;
ALTER TABLE faces_k RENAME TO faces;
CREATE INDEX faces_photo_key ON faces (photo_key);

CREATE TABLE permission_bindings_k (
    person_id           TEXT NOT NULL,
    permission_group_id TEXT NOT NULL,
    bound_at            TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, permission_group_id)
) WITHOUT ROWID;
INSERT INTO permission_bindings_k (person_id, permission_group_id, bound_at)
    SELECT person_id, permission_group_id, bound_at FROM permission_bindings;
DROP TABLE permission_bindings;
ALTER TABLE permission_bindings_k RENAME TO permission_bindings;
CREATE INDEX permission_bindings_group ON permission_bindings (permission_group_id);

CREATE TABLE deletion_items_k (
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
) WITHOUT ROWID;
INSERT INTO deletion_items_k (deletion_id, position, person_id, state, saga_id, error_code, error_message, error_step, updated_at)
    SELECT deletion_id, position, person_id, state, saga_id, error_code, error_message, error_step, updated_at FROM deletion_items;
DROP TABLE deletion_items;
ALTER TABLE deletion_items_k RENAME TO deletion_items;
CREATE INDEX deletion_items_person ON deletion_items (person_id, deletion_id, state);
CREATE INDEX deletion_items_state ON deletion_items (deletion_id, state, position);

CREATE TABLE deleted_persons_k (
    person_id   TEXT NOT NULL,
    deletion_id TEXT NOT NULL,
    deleted_at  TIMESTAMP NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
) WITHOUT ROWID;
INSERT INTO deleted_persons_k (person_id, deletion_id, deleted_at, seq) SELECT person_id, deletion_id, deleted_at, seq FROM deleted_persons;
DROP TABLE deleted_persons;
ALTER TABLE deleted_persons_k RENAME TO deleted_persons;

CREATE TABLE audit_persons_k (
    person_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
) WITHOUT ROWID;
INSERT INTO audit_persons_k (person_id, seq) SELECT person_id, seq FROM audit_persons;
DROP TABLE audit_persons;
ALTER TABLE audit_persons_k RENAME TO audit_persons;

CREATE TABLE target_outcomes_k (
    person_id  TEXT NOT NULL,
    saga_id    TEXT NOT NULL,
    target     TEXT NOT NULL,
    state      TEXT NOT NULL, -- pending, deleted, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, saga_id, target)
) WITHOUT ROWID;
INSERT INTO target_outcomes_k (person_id, saga_id, target, state, attempts, last_error, updated_at)
    SELECT person_id, saga_id, target, state, attempts, last_error, updated_at FROM target_outcomes;
DROP TABLE target_outcomes;
ALTER TABLE target_outcomes_k RENAME TO target_outcomes;
CREATE INDEX target_outcomes_target ON target_outcomes (target, state, updated_at);

-- +goose Down
-- Faces get their face_id key back; the other tables answer the same queries either way.
CREATE TABLE faces_r (
    face_id   TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    photo_key TEXT NOT NULL,
    added_at  TIMESTAMP NOT NULL
);
INSERT INTO faces_r (face_id, person_id, photo_key, added_at) SELECT face_id, person_id, photo_key, added_at FROM faces;
DROP TABLE faces;
ALTER TABLE faces_r RENAME TO faces;
CREATE INDEX faces_person ON faces (person_id);
CREATE INDEX faces_photo_key ON faces (photo_key);
