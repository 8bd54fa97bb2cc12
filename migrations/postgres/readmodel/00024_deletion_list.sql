-- +goose Up
-- GET /v1/deletions: who requested each deletion (the API key's name or the surface's actor; for
-- a group's deletion, the requester of the group's deletion) and through which surface, both
-- from event data; newest first by an index, not a scan.
ALTER TABLE deletions ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE deletions ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE deleted_groups ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE INDEX deletions_created ON deletions (created_at DESC, deletion_id DESC);
CREATE INDEX deletions_actor_created ON deletions (actor, created_at DESC, deletion_id DESC);
CREATE INDEX deleted_groups_deletion ON deleted_groups (deletion_id);

-- +goose Down
DROP INDEX deleted_groups_deletion;
DROP INDEX deletions_actor_created;
DROP INDEX deletions_created;
ALTER TABLE deleted_groups DROP COLUMN actor;
ALTER TABLE deletions DROP COLUMN source;
ALTER TABLE deletions DROP COLUMN actor;
