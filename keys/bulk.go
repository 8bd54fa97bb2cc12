package keys

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
)

// SealMany seals one value per person (person id → plaintext), creating missing keys in one
// transaction: the bulk registration path, where a transaction per person would cost an fsync each.
func (s *Store) SealMany(ctx context.Context, values map[string]string) (map[string]events.Sealed, error) {
	if len(values) == 0 {
		return map[string]events.Sealed{}, nil
	}
	ids := make([]string, 0, len(values))
	for id := range values {
		ids = append(ids, id)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("seal many: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	now := time.Now().UTC()
	out := make(map[string]events.Sealed, len(values))
	for _, id := range ids {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate data key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(
			"INSERT INTO person_keys (person_id, wrapped, created_at) VALUES (?, ?, ?) ON CONFLICT (person_id) DO NOTHING"),
			id, sealBytes(s.master, key, id), now); err != nil {
			return nil, fmt.Errorf("store data key: %w", err)
		}
	}
	var rows []struct {
		PersonID string `db:"person_id"`
		Wrapped  []byte `db:"wrapped"`
	}
	for start := 0; start < len(ids); start += 500 {
		q, args, err := sqlx.In("SELECT person_id, wrapped FROM person_keys WHERE person_id IN (?)", ids[start:min(start+500, len(ids))])
		if err != nil {
			return nil, err
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("load data keys: %w", err)
		}
		for _, r := range rows {
			aead, err := s.unwrap(r.PersonID, r.Wrapped)
			if err != nil {
				return nil, err
			}
			out[r.PersonID] = seal(aead, r.PersonID, values[r.PersonID])
		}
		rows = rows[:0]
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("seal many: %w", err)
	}
	return out, nil
}
