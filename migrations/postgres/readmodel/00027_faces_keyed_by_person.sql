-- +goose Up
-- Faces are keyed by (person_id, face_id), as on SQLite (00027 there): every query names the
-- person, so the key serves them and the separate person index goes; both dialects now keep or
-- drop the same rows on a conflicting insert.
ALTER TABLE faces DROP CONSTRAINT faces_pkey, ADD PRIMARY KEY (person_id, face_id);
DROP INDEX faces_person;

-- +goose Down
ALTER TABLE faces DROP CONSTRAINT faces_pkey, ADD PRIMARY KEY (face_id);
CREATE INDEX faces_person ON faces (person_id);
