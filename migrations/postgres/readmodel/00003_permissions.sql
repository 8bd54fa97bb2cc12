-- +goose Up
-- Permission groups (Sophon permissions); every column comes from event data.
CREATE TABLE permission_groups (
    permission_group_id TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX permission_groups_name ON permission_groups (name);

-- A person's further personal fields (Sophon user_type and ext_user_info), sealed like the name.
ALTER TABLE persons ADD COLUMN profile_sealed TEXT NOT NULL DEFAULT '';

-- Sophon addresses registration photos by their key (register_image_id).
CREATE INDEX faces_photo_key ON faces (photo_key);
-- Persons in registration order, for Sophon's paged getidentities.
CREATE INDEX persons_created ON persons (created_at, person_id);

-- +goose Down
DROP INDEX persons_created;
DROP INDEX faces_photo_key;
ALTER TABLE persons DROP COLUMN profile_sealed;
DROP TABLE permission_groups;
