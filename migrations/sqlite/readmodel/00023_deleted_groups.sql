-- +goose Up
-- Groups whose deletion was requested, as deleted_persons keeps persons: group IDs are keys, kept
-- as the record of what was deleted. A Tencent create signed before a group's deletion was
-- requested is refused (a replay must not bring the group back).
CREATE TABLE deleted_groups (
    group_id     TEXT NOT NULL,
    deletion_id  TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (group_id, seq)
);

-- +goose Down
DROP TABLE deleted_groups;
