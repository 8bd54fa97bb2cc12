-- +goose Up
-- Face records are keyed by (person_id, face_id), as on SQLite (00032 there): a deletion removes
-- them by person, so the key serves it and the separate person index goes. Face IDs are random
-- per face, so the pair is as unique as the ID was.
ALTER TABLE face_index DROP CONSTRAINT face_index_pkey, ADD PRIMARY KEY (person_id, face_id);
DROP INDEX face_index_person;

-- +goose Down
ALTER TABLE face_index DROP CONSTRAINT face_index_pkey, ADD PRIMARY KEY (face_id);
CREATE INDEX face_index_person ON face_index (person_id);
