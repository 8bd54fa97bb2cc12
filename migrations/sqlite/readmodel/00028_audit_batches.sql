-- +goose Up
-- A batch's own entries (its start and its steps, each naming up to 999 persons) are listed
-- once under the batch instead of under every person they name; a person's request names its
-- batch in its row, through which a person's trail finds them (projections.auditIndex). A bulk's
-- person is in three audit_persons rows instead of seven. The audit projection's version moves
-- to 2, so the rows written before are rebuilt from the log at the next start.
ALTER TABLE audit_persons ADD COLUMN batch TEXT NOT NULL DEFAULT '';

CREATE TABLE audit_batches (
    batch TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (batch, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE audit_batches;
ALTER TABLE audit_persons DROP COLUMN batch;
