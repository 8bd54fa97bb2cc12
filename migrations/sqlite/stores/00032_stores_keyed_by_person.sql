-- +goose Up
-- A deletion removes a person's face records and bindings by person: key them so. A face record
-- was three B-trees (the rowid table, face_id's key, person_id's index); keyed by (person_id,
-- face_id) it is two, and it keeps its rowid table, since a feature vector can be larger than
-- WITHOUT ROWID suits. A binding was three (the rowid table, its key, the group's index); WITHOUT
-- ROWID it is two. Face IDs are random per face, so the pair is as unique as the ID was.
CREATE TABLE face_index_k (
    person_id  TEXT NOT NULL,
    face_id    TEXT NOT NULL,
    feature    BLOB,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, face_id)
);
INSERT INTO face_index_k (person_id, face_id, feature, created_at)
    SELECT person_id, face_id, feature, created_at FROM face_index;
DROP TABLE face_index;
ALTER TABLE face_index_k RENAME TO face_index;

CREATE TABLE permission_directory_k (
    person_id           TEXT NOT NULL,
    permission_group_id TEXT NOT NULL,
    bound_at            TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, permission_group_id)
) WITHOUT ROWID;
INSERT INTO permission_directory_k (person_id, permission_group_id, bound_at)
    SELECT person_id, permission_group_id, bound_at FROM permission_directory;
DROP TABLE permission_directory;
ALTER TABLE permission_directory_k RENAME TO permission_directory;
CREATE INDEX permission_directory_group ON permission_directory (permission_group_id);

-- +goose Down
CREATE TABLE face_index_k (
    face_id    TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    feature    BLOB,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO face_index_k (face_id, person_id, feature, created_at)
    SELECT face_id, person_id, feature, created_at FROM face_index;
DROP TABLE face_index;
ALTER TABLE face_index_k RENAME TO face_index;
CREATE INDEX face_index_person ON face_index (person_id);

CREATE TABLE permission_directory_k (
    person_id           TEXT NOT NULL,
    permission_group_id TEXT NOT NULL,
    bound_at            TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, permission_group_id)
);
INSERT INTO permission_directory_k (person_id, permission_group_id, bound_at)
    SELECT person_id, permission_group_id, bound_at FROM permission_directory;
DROP TABLE permission_directory;
ALTER TABLE permission_directory_k RENAME TO permission_directory;
CREATE INDEX permission_directory_group ON permission_directory (permission_group_id);
