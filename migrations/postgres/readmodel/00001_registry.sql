-- +goose Up
-- Read models of the registry. Every column comes from event data, so a rebuild is row-for-row equal.
CREATE TABLE checkpoints (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    tag        TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE persons (
    person_id   TEXT PRIMARY KEY,
    name_sealed TEXT NOT NULL,
    state       TEXT NOT NULL,
    deletion_id TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL
);

CREATE TABLE memberships (
    person_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (person_id, group_id)
);
CREATE INDEX memberships_group ON memberships (group_id, person_id);

CREATE TABLE faces (
    face_id   TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    photo_key TEXT NOT NULL,
    added_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX faces_person ON faces (person_id);

CREATE TABLE permission_bindings (
    person_id           TEXT NOT NULL,
    permission_group_id TEXT NOT NULL,
    bound_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (person_id, permission_group_id)
);
CREATE INDEX permission_bindings_group ON permission_bindings (permission_group_id);

-- +goose Down
DROP TABLE permission_bindings;
DROP TABLE faces;
DROP TABLE memberships;
DROP TABLE persons;
DROP TABLE groups;
DROP TABLE checkpoints;
