-- +goose Up
-- Permission group names are unique across aggregates (a Sophon permission_name), which the log
-- cannot enforce on its own: a name is reserved here before the PermissionGroupCreated append and
-- released when the group is deleted or the append fails. A reservation whose holder never made it
-- into the log is taken over after a grace period (see app.reservePermissionName).
CREATE TABLE permission_names (
    name                TEXT PRIMARY KEY,
    permission_group_id TEXT NOT NULL,
    reserved_at         TIMESTAMPTZ NOT NULL
);

-- Deleting a permission group removes its bindings by group.
CREATE INDEX permission_directory_group ON permission_directory (permission_group_id);

-- +goose Down
DROP INDEX permission_directory_group;
DROP TABLE permission_names;
