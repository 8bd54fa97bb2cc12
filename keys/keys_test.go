package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/keys"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// forEachDialect runs fn as a parallel subtest on a fresh, migrated key database of each dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *sqlx.DB)) {
	t.Helper()
	for _, dialect := range []string{sqldb.SQLite, sqldb.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, openKeysDB(t, dialect))
		})
	}
}

func openKeysDB(t *testing.T, dialect string) *sqlx.DB {
	t.Helper()
	ctx := context.Background()
	var (
		dbs *sqldb.DBs
		err error
	)
	if dialect == sqldb.Postgres {
		dbs, err = sqldb.OpenPostgres(ctx, pgtest.New(t))
	} else {
		dbs, err = sqldb.OpenSQLite(t.TempDir())
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dbs.Close()) })
	require.NoError(t, dbs.Migrate(ctx))
	return dbs.Keys
}

func newMaster(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func newKeys(t *testing.T, db *sqlx.DB, master []byte) *keys.Store {
	t.Helper()
	s, err := keys.New(db, master)
	require.NoError(t, err)
	return s
}

func keyRows(t *testing.T, db *sqlx.DB, personID string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Get(&n, db.Rebind(`SELECT COUNT(*) FROM person_keys WHERE person_id = ?`), personID))
	return n
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		master := newMaster(t)
		s := newKeys(t, db, master)
		tests := []struct {
			name, person, plaintext string
		}{
			{"ascii", "p1", "Alice Example"},
			{"empty plaintext", "p2", ""},
			{"unicode", "p3", "张伟 — Ünïcødé 👤"},
			{"long", "p4", strings.Repeat("x", 10_000)},
			{"second value of p1", "p1", "another field"},
			{"id with symbols", "a_b-c%d@e#f&g", "symbols"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sealed, err := s.Seal(ctx, tt.person, tt.plaintext)
				require.NoError(t, err)
				require.NotEmpty(t, sealed)
				if tt.plaintext != "" {
					require.NotContains(t, string(sealed), tt.plaintext)
				}
				got, err := s.Open(ctx, tt.person, sealed)
				require.NoError(t, err)
				require.Equal(t, tt.plaintext, got)

				// Fresh nonce every time: equal plaintexts do not give equal values.
				again, err := s.Seal(ctx, tt.person, tt.plaintext)
				require.NoError(t, err)
				require.NotEqual(t, sealed, again)

				// The key is stored, not cached: another store on the same database opens it.
				got, err = newKeys(t, db, master).Open(ctx, tt.person, sealed)
				require.NoError(t, err)
				require.Equal(t, tt.plaintext, got)
			})
		}
		// One key per person, however many values were sealed.
		require.Equal(t, 1, keyRows(t, db, "p1"))
		has, err := s.Has(ctx, "p1")
		require.NoError(t, err)
		require.True(t, has)
	})
}

func TestOpenEmptyNeedsNoKey(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		s := newKeys(t, db, newMaster(t))
		got, err := s.Open(context.Background(), "nobody", "")
		require.NoError(t, err)
		require.Empty(t, got)
		require.Zero(t, keyRows(t, db, "nobody"))
	})
}

func TestOpenAfterDestroyIsShredded(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		s := newKeys(t, db, newMaster(t))
		sealed := map[string]events.Sealed{}
		for _, p := range []string{"p1", "p2", "p3"} {
			v, err := s.Seal(ctx, p, "name of "+p)
			require.NoError(t, err)
			sealed[p] = v
		}
		require.NoError(t, s.Destroy(ctx, "p1", "p3", "never-existed"))
		require.NoError(t, s.Destroy(ctx, "p1")) // idempotent
		require.NoError(t, s.Destroy(ctx))       // nothing to do

		for _, tt := range []struct {
			person string
			gone   bool
		}{{"p1", true}, {"p2", false}, {"p3", true}} {
			got, err := s.Open(ctx, tt.person, sealed[tt.person])
			has, herr := s.Has(ctx, tt.person)
			require.NoError(t, herr)
			require.Equal(t, !tt.gone, has)
			if tt.gone {
				require.ErrorIs(t, err, keys.ErrShredded, tt.person)
				require.Empty(t, got)
				require.Zero(t, keyRows(t, db, tt.person))
				continue
			}
			require.NoError(t, err)
			require.Equal(t, "name of "+tt.person, got)
		}
	})
}

func TestSealedForOnePersonCannotBeOpenedAsAnother(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		s := newKeys(t, db, newMaster(t))
		forA, err := s.Seal(ctx, "a", "secret of a")
		require.NoError(t, err)
		_, err = s.Seal(ctx, "b", "secret of b") // b has a key of its own
		require.NoError(t, err)

		for _, other := range []string{"b", "c" /* no key at all */} {
			got, err := s.Open(ctx, other, forA)
			require.ErrorIs(t, err, keys.ErrShredded, other)
			require.Empty(t, got)
		}
		// Opening never creates a key.
		require.Zero(t, keyRows(t, db, "c"))
	})
}

func TestRecreatedKeyCannotOpenOldValues(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		s := newKeys(t, db, newMaster(t))
		old, err := s.Seal(ctx, "p1", "first life")
		require.NoError(t, err)
		require.NoError(t, s.Destroy(ctx, "p1"))

		// The person is registered again under the same id: a new key is made.
		fresh, err := s.Seal(ctx, "p1", "second life")
		require.NoError(t, err)
		require.Equal(t, 1, keyRows(t, db, "p1"))

		_, err = s.Open(ctx, "p1", old)
		require.ErrorIs(t, err, keys.ErrShredded)
		got, err := s.Open(ctx, "p1", fresh)
		require.NoError(t, err)
		require.Equal(t, "second life", got)
	})
}

func TestOpenGarbageIsShredded(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		s := newKeys(t, db, newMaster(t))
		good, err := s.Seal(ctx, "p1", "value")
		require.NoError(t, err)
		raw, err := base64.RawStdEncoding.DecodeString(string(good))
		require.NoError(t, err)
		raw[len(raw)-1] ^= 0x01
		tests := []struct {
			name   string
			sealed events.Sealed
		}{
			{"not base64", "!!!"},
			{"too short", events.Sealed(base64.RawStdEncoding.EncodeToString([]byte("abc")))},
			{"tampered", events.Sealed(base64.RawStdEncoding.EncodeToString(raw))},
			{"truncated", good[:len(good)-4]},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Open(ctx, "p1", tt.sealed)
				require.ErrorIs(t, err, keys.ErrShredded)
				require.Empty(t, got)
			})
		}
	})
}

func TestWrongMasterKeyFailsLoudly(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		right := newKeys(t, db, newMaster(t))
		sealed, err := right.Seal(ctx, "p1", "Alice")
		require.NoError(t, err)

		wrong := newKeys(t, db, newMaster(t))
		got, err := wrong.Open(ctx, "p1", sealed)
		require.Error(t, err)
		// Not "erased": a misconfigured master key must never look like a deleted person.
		require.NotErrorIs(t, err, keys.ErrShredded)
		require.Contains(t, err.Error(), "wrong master key")
		require.Empty(t, got)

		_, err = wrong.Seal(ctx, "p1", "Mallory")
		require.Error(t, err)
		require.NotErrorIs(t, err, keys.ErrShredded)
		_, err = wrong.Has(ctx, "p1")
		require.Error(t, err)

		// Nothing was overwritten: the right master key still opens the value.
		got, err = right.Open(ctx, "p1", sealed)
		require.NoError(t, err)
		require.Equal(t, "Alice", got)
	})
}

func TestNewRejectsBadMasterKey(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 15, 31, 33} {
		_, err := keys.New(nil, make([]byte, n))
		require.Error(t, err, "%d bytes", n)
	}
}

func TestConcurrentFirstSealOneKeyWins(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, db *sqlx.DB) {
		ctx := context.Background()
		master := newMaster(t)
		const writers = 24
		var (
			wg     sync.WaitGroup
			sealed = make([]events.Sealed, writers)
			errs   = make([]error, writers)
		)
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := keys.New(db, master) // each like its own request handler
				if err != nil {
					errs[i] = err
					return
				}
				<-start
				sealed[i], errs[i] = s.Seal(ctx, "new-person", fmt.Sprintf("value %d", i))
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, keyRows(t, db, "new-person"))
		s := newKeys(t, db, master)
		for i := range writers {
			require.NoError(t, errs[i], "writer %d", i)
			got, err := s.Open(ctx, "new-person", sealed[i])
			require.NoError(t, err, "writer %d", i)
			require.Equal(t, fmt.Sprintf("value %d", i), got)
		}
	})
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	t.Parallel()

	t.Run("created once with mode 0600", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		first, err := keys.LoadOrCreateMasterKey(dir, "")
		require.NoError(t, err)
		require.Len(t, first, 32)
		info, err := os.Stat(filepath.Join(dir, keys.MasterKeyFile))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		second, err := keys.LoadOrCreateMasterKey(dir, "")
		require.NoError(t, err)
		require.Equal(t, first, second)

		content, err := os.ReadFile(filepath.Join(dir, keys.MasterKeyFile))
		require.NoError(t, err)
		require.Equal(t, base64.StdEncoding.EncodeToString(first), strings.TrimSpace(string(content)))
	})

	t.Run("given value wins and writes no file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		want := make([]byte, 32)
		for i := range want {
			want[i] = byte(i)
		}
		got, err := keys.LoadOrCreateMasterKey(dir, base64.StdEncoding.EncodeToString(want))
		require.NoError(t, err)
		require.Equal(t, want, got)
		_, err = os.Stat(filepath.Join(dir, keys.MasterKeyFile))
		require.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("file written by hand is read", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		want := make([]byte, 32)
		want[0] = 7
		require.NoError(t, os.WriteFile(filepath.Join(dir, keys.MasterKeyFile),
			[]byte("  "+base64.StdEncoding.EncodeToString(want)+"\n\n"), 0o600))
		got, err := keys.LoadOrCreateMasterKey(dir, "")
		require.NoError(t, err)
		require.Equal(t, want, got)
	})

	key32 := make([]byte, 32)
	invalid := []struct {
		name, value string
	}{
		{"not base64", "this is not base64!"},
		{"too short", base64.StdEncoding.EncodeToString(make([]byte, 16))},
		{"too long", base64.StdEncoding.EncodeToString(make([]byte, 33))},
		{"unpadded", base64.RawStdEncoding.EncodeToString(key32)},
		{"url alphabet", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))},
		{"hex", fmt.Sprintf("%x", key32)},
	}
	for _, tt := range invalid {
		t.Run("invalid ERASURE_MASTER_KEY "+tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := keys.LoadOrCreateMasterKey(t.TempDir(), tt.value)
			require.Error(t, err)
			require.Contains(t, err.Error(), "ERASURE_MASTER_KEY")
			require.Contains(t, err.Error(), "32 bytes")
			require.NotContains(t, err.Error(), tt.value, "the error must not echo the secret")
		})
		t.Run("invalid file "+tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, keys.MasterKeyFile)
			require.NoError(t, os.WriteFile(path, []byte(tt.value), 0o600))
			_, err := keys.LoadOrCreateMasterKey(dir, "")
			require.Error(t, err)
			require.Contains(t, err.Error(), path)
		})
	}

	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		_, err := keys.LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "nope"), "")
		require.Error(t, err)
	})
}
