-- +goose Up
-- The built-in downstream stores the deletion saga purges: the face index (feature records) and
-- the permission directory (access-control bindings). Photos live on the filesystem.
CREATE TABLE face_index (
    face_id    TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    feature    BYTEA,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX face_index_person ON face_index (person_id);

CREATE TABLE permission_directory (
    person_id           TEXT NOT NULL,
    permission_group_id TEXT NOT NULL,
    bound_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (person_id, permission_group_id)
);

-- +goose Down
DROP TABLE permission_directory;
DROP TABLE face_index;
