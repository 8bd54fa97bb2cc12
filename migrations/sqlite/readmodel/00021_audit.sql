-- +goose Up
-- The audit trail: one entry per event of the log, chained by SHA-256 (hash = SHA-256 of the
-- previous hash and the canonical entry). Only pseudonymous IDs, never a name or biometric data.
-- at is the event time as fixed-width RFC 3339 text (UTC, microseconds), so that it sorts and
-- reads back byte for byte as it was hashed.
CREATE TABLE audit_log (
    seq                  INTEGER PRIMARY KEY,
    at                   TEXT NOT NULL,
    event_id             TEXT NOT NULL,
    actor                TEXT NOT NULL,
    action               TEXT NOT NULL,
    request_id           TEXT NOT NULL,
    deletion_id          TEXT NOT NULL,
    person_ids           TEXT NOT NULL,
    group_ids            TEXT NOT NULL,
    permission_group_ids TEXT NOT NULL,
    outcome              TEXT NOT NULL,
    prev_hash            TEXT NOT NULL,
    hash                 TEXT NOT NULL
);
CREATE INDEX audit_log_request ON audit_log (request_id, seq);
CREATE INDEX audit_log_deletion ON audit_log (deletion_id, seq);
CREATE INDEX audit_log_at ON audit_log (at, seq);

-- Every person an entry names (a bulk request names thousands), for a person's trail.
CREATE TABLE audit_persons (
    person_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (person_id, seq)
);

-- +goose Down
DROP TABLE audit_persons;
DROP TABLE audit_log;
