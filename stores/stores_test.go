package stores_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/sqldb"
	"github.com/erasure-dev/erasure/stores"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// env is the built-in stores on a fresh database, with photos under root/photos.
type env struct {
	b      *stores.Builtin
	db     *sqlx.DB
	root   string
	photos string
}

// forEachDialect runs fn as a parallel subtest on fresh stores of each dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	for _, dialect := range []string{sqldb.SQLite, sqldb.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, dialect))
		})
	}
}

func newEnv(t *testing.T, dialect string) env {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	var (
		dbs *sqldb.DBs
		err error
	)
	if dialect == sqldb.Postgres {
		dbs, err = sqldb.OpenPostgres(ctx, pgtest.New(t))
	} else {
		dbs, err = sqldb.OpenSQLite(root)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dbs.Close()) })
	require.NoError(t, dbs.Migrate(ctx))
	photos := filepath.Join(root, "photos")
	b, err := stores.NewBuiltin(dbs.Stores, photos)
	require.NoError(t, err)
	return env{b: b, db: dbs.Stores, root: root, photos: photos}
}

func faces(person string, n int) []app.FaceRecord {
	out := make([]app.FaceRecord, n)
	for i := range out {
		out[i] = app.FaceRecord{
			FaceID:   fmt.Sprintf("%s-f%d", person, i),
			PhotoKey: fmt.Sprintf("%s-k%d", person, i),
			Photo:    []byte(fmt.Sprintf("jpeg bytes of %s #%d", person, i)),
			Feature:  []byte{byte(i), 0x00, 0xff, byte(len(person))},
		}
	}
	return out
}

func (e env) register(t *testing.T, person string, nFaces int, perms ...string) []app.FaceRecord {
	t.Helper()
	fs := faces(person, nFaces)
	require.NoError(t, e.b.Register(context.Background(), person, fs, perms))
	return fs
}

func (e env) rows(t *testing.T, query string, args ...any) []string {
	t.Helper()
	rows, err := e.db.Queryx(e.db.Rebind(query), args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		cols, err := rows.SliceScan()
		require.NoError(t, err)
		cells := make([]string, len(cols))
		for i, c := range cols {
			if b, ok := c.([]byte); ok {
				c = string(b)
			}
			cells[i] = fmt.Sprint(c)
		}
		out = append(out, strings.Join(cells, ":"))
	}
	require.NoError(t, rows.Err())
	sort.Strings(out)
	return out
}

// files lists every file under the test's root directory (database files aside), relative to it.
func (e env) files(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(d.Name(), ".db") || d.Name() == ".lock" {
			return err // .lock: the photo store's lock file, which holds nothing
		}
		rel, err := filepath.Rel(e.root, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	}))
	sort.Strings(out)
	return out
}

func (e env) keys(t *testing.T, person string) []string {
	t.Helper()
	keys, err := e.b.PhotoKeys(person)
	require.NoError(t, err)
	return keys
}

func (e env) leftovers(t *testing.T, ids ...string) []string {
	t.Helper()
	got, err := e.b.Leftovers(context.Background(), ids)
	require.NoError(t, err)
	sort.Strings(got)
	return got
}

func TestRegisterWritesAllStoresIdempotently(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		ctx := context.Background()
		recs := faces("p1", 2)
		// A face registered from its feature alone has no photo to keep.
		recs = append(recs, app.FaceRecord{FaceID: "p1-f9", PhotoKey: "p1-k9", Feature: []byte{9}})
		for attempt := range 3 { // the first registration, then two retries of it
			require.NoError(t, e.b.Register(ctx, "p1", recs, []string{"pg1", "pg2"}), "attempt %d", attempt)

			require.Equal(t, []string{"photos/p1.pack"}, e.files(t))
			info, err := os.Stat(filepath.Join(e.photos, "p1.pack"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
			require.Equal(t, []string{"p1-k0", "p1-k1"}, e.keys(t, "p1"))
			for _, f := range recs[:2] {
				got, err := e.b.Photo("p1", f.PhotoKey)
				require.NoError(t, err)
				require.Equal(t, f.Photo, got)
			}
			require.Equal(t, []string{
				"p1-f0:p1:" + string(recs[0].Feature),
				"p1-f1:p1:" + string(recs[1].Feature),
				"p1-f9:p1:" + string(recs[2].Feature),
			}, e.rows(t, `SELECT face_id, person_id, feature FROM face_index`))
			require.Equal(t, []string{"p1:pg1", "p1:pg2"},
				e.rows(t, `SELECT person_id, permission_group_id FROM permission_directory`))
		}
		// Registering with no faces and no permissions is fine and writes nothing.
		require.NoError(t, e.b.Register(ctx, "p2", nil, nil))
		require.Equal(t, []string{"face_index:p1", "permission_directory:p1", "photo_store:p1"},
			e.leftovers(t, "p1", "p2"))
	})
}

func TestPhoto(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		recs := e.register(t, "p1", 2)
		e.register(t, "p2", 1)
		tests := []struct {
			name, person, key string
			want              []byte
			notExist          bool
		}{
			{"first", "p1", "p1-k0", recs[0].Photo, false},
			{"second", "p1", "p1-k1", recs[1].Photo, false},
			{"unknown key", "p1", "nope", nil, true},
			{"another person's key", "p1", "p2-k0", nil, true},
			{"unknown person", "p9", "p1-k0", nil, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.b.Photo(tt.person, tt.key)
				if tt.notExist {
					require.ErrorIs(t, err, os.ErrNotExist)
					require.Nil(t, got)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	})
}

func TestPurgesRemoveOnlyTheGivenPersons(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		ctx := context.Background()
		e.register(t, "p1", 2, "pg1", "pg2")
		e.register(t, "p2", 1, "pg1")
		e.register(t, "keep", 2, "pg1", "pg2")
		doomed := []string{"p1", "p2", "never-registered"}
		keepBefore := struct{ faces, perms, files []string }{
			e.rows(t, `SELECT face_id FROM face_index WHERE person_id = 'keep'`),
			e.rows(t, `SELECT permission_group_id FROM permission_directory WHERE person_id = 'keep'`),
			[]string{"photos/keep.pack"},
		}
		require.Equal(t, []string{
			"face_index:p1", "face_index:p2", "permission_directory:p1", "permission_directory:p2",
			"photo_store:p1", "photo_store:p2",
		}, e.leftovers(t, doomed...))

		// The saga's steps, in its order; each removes one store's data and is safe to repeat.
		steps := []struct {
			name  string
			run   func(context.Context, []string) error
			store string
		}{
			{"unbind permission groups", e.b.UnbindPermissionGroups, "permission_directory"},
			{"purge faces", e.b.PurgeFaces, "face_index"},
			{"purge photos", func(ctx context.Context, ids []string) error { return e.b.PurgePhotos(ctx, byPerson(ids...)) }, "photo_store"},
		}
		purged := map[string]bool{}
		for _, st := range steps {
			require.NoError(t, st.run(ctx, doomed), st.name)
			require.NoError(t, st.run(ctx, doomed), "%s again", st.name)
			require.NoError(t, st.run(ctx, nil), "%s of nobody", st.name)
			purged[st.store] = true
			var want []string
			for _, s := range []string{"face_index", "permission_directory", "photo_store"} {
				if !purged[s] {
					want = append(want, s+":p1", s+":p2")
				}
			}
			sort.Strings(want)
			require.Equal(t, want, e.leftovers(t, doomed...), "after %s", st.name)
		}
		require.Empty(t, e.leftovers(t, doomed...))
		require.Empty(t, e.rows(t, `SELECT face_id FROM face_index WHERE person_id IN ('p1', 'p2')`))

		// The person who was not named keeps everything.
		require.Equal(t, keepBefore.faces, e.rows(t, `SELECT face_id FROM face_index WHERE person_id = 'keep'`))
		require.Equal(t, keepBefore.perms, e.rows(t, `SELECT permission_group_id FROM permission_directory WHERE person_id = 'keep'`))
		require.Equal(t, keepBefore.files, e.files(t))
		require.Equal(t, []string{"face_index:keep", "permission_directory:keep", "photo_store:keep"}, e.leftovers(t, "keep"))
	})
}

func TestPurgesManyPersonsInChunks(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		ctx := context.Background()
		var ids []string
		for i := range 1203 { // more than two chunks of 500
			ids = append(ids, fmt.Sprintf("bulk%04d", i))
		}
		registered := []string{ids[0], ids[499], ids[500], ids[1202]}
		for _, id := range registered {
			e.register(t, id, 1, "pg")
		}
		e.register(t, "outsider", 1, "pg")
		require.Len(t, e.leftovers(t, ids...), 3*len(registered))

		require.NoError(t, e.b.UnbindPermissionGroups(ctx, ids))
		require.NoError(t, e.b.PurgeFaces(ctx, ids))
		require.NoError(t, e.b.PurgePhotos(ctx, byPerson(ids...)))
		require.Empty(t, e.leftovers(t, ids...))
		require.Equal(t, []string{"outsider-f0"}, e.rows(t, `SELECT face_id FROM face_index`))
		require.Equal(t, []string{"outsider:pg"}, e.rows(t, `SELECT person_id, permission_group_id FROM permission_directory`))
		require.Equal(t, []string{"photos/outsider.pack"}, e.files(t))
	})
}

func TestRemoveFace(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		ctx := context.Background()
		e.register(t, "p1", 3, "pg1")
		e.register(t, "p2", 1)

		require.NoError(t, e.b.RemoveFace(ctx, "p1", "p1-f1", "p1-k1"))
		require.NoError(t, e.b.RemoveFace(ctx, "p1", "p1-f1", "p1-k1")) // idempotent
		// A face id named under the wrong person removes nothing of the owner's.
		require.NoError(t, e.b.RemoveFace(ctx, "p1", "p2-f0", "p2-k0"))

		require.Equal(t, []string{"p1-f0:p1", "p1-f2:p1", "p2-f0:p2"}, e.rows(t, `SELECT face_id, person_id FROM face_index`))
		require.Equal(t, []string{"photos/p1.pack", "photos/p2.pack"}, e.files(t))
		require.Equal(t, []string{"p1-k0", "p1-k2"}, e.keys(t, "p1"))
		_, err := e.b.Photo("p1", "p1-k1")
		require.ErrorIs(t, err, os.ErrNotExist)
		// The last face's photo takes the pack with it.
		require.NoError(t, e.b.RemoveFace(ctx, "p2", "p2-f0", "p2-k0"))
		require.Equal(t, []string{"photos/p1.pack"}, e.files(t))
		// Removing a face leaves the person's bindings alone.
		require.Equal(t, []string{"p1:pg1"}, e.rows(t, `SELECT person_id, permission_group_id FROM permission_directory`))
	})
}

func TestPathTraversalIsRejected(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e env) {
		ctx := context.Background()
		e.register(t, "victim", 1, "pg")
		// Something next to the photo store that an escaping path would reach.
		sentinel := filepath.Join(e.root, "x")
		require.NoError(t, os.WriteFile(sentinel, []byte("keep me"), 0o600))
		before := e.files(t)

		bad := []string{"../x", "..", ".", "../photos/victim", "a/b", "/etc/passwd", `..\x`, "victim/../victim", "", "x\x00y"}
		for _, id := range bad {
			t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
				photo := []app.FaceRecord{{FaceID: "f", PhotoKey: "k", Photo: []byte("evil")}}
				require.Error(t, e.b.Register(ctx, id, photo, nil), "register as person")
				badKey := []app.FaceRecord{{FaceID: "f", PhotoKey: id, Photo: []byte("evil")}}
				require.Error(t, e.b.Register(ctx, "attacker", badKey, nil), "register with photo key")

				_, err := e.b.Photo(id, "k")
				require.Error(t, err, "photo of person")
				_, err = e.b.Photo("victim", id)
				require.Error(t, err, "photo key")
				_, err = e.b.Photo(id, "victim-k0")
				require.Error(t, err)

				require.Error(t, e.b.RemoveFace(ctx, "victim", "nope", id), "remove face with photo key")
				require.Error(t, e.b.PurgePhotos(ctx, byPerson(id)), "purge photos")
				_, err = e.b.Leftovers(ctx, []string{id})
				require.Error(t, err, "leftovers")
			})
		}
		// Nothing was written, read through or removed outside the store, and nothing of the
		// victim's went.
		require.Equal(t, before, e.files(t))
		got, err := os.ReadFile(sentinel)
		require.NoError(t, err)
		require.Equal(t, "keep me", string(got))
		require.Empty(t, e.rows(t, `SELECT face_id FROM face_index WHERE person_id <> 'victim'`))
		require.Equal(t, []string{"face_index:victim", "permission_directory:victim", "photo_store:victim"}, e.leftovers(t, "victim"))
	})
}

// A photo directory of an unexpected shape (a subdirectory someone made) is still removed whole,
// and purging a person without photos, or twice, succeeds.
func TestPurgePhotosOddShapes(t *testing.T) {
	dir := t.TempDir()
	b, err := stores.NewBuiltin(nil, dir)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "odd", "nested"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "odd", "nested", "x"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "odd", "a"), []byte("a"), 0o600))
	require.NoError(t, b.PurgePhotos(ctx, byPerson("odd", "none")))
	require.NoError(t, b.PurgePhotos(ctx, byPerson("odd")))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Equal(t, ".lock", e.Name(), "only the store's lock file is left")
	}
}

// TestPurgePhotosRemovesWhateverADirectoryHolds: a person's photo directory goes whole, whatever
// it holds and whichever photo keys the deletion expected, and nothing outside it is touched,
// through a symbolic link named like the person included.
func TestPurgePhotosRemovesWhateverADirectoryHolds(t *testing.T) {
	t.Parallel()
	file := func(t *testing.T, path string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
		require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
	}
	for _, tc := range []struct {
		name   string
		layout func(t *testing.T, dir, outside string)
	}{
		{"no directory", func(*testing.T, string, string) {}},
		{"an empty directory", func(t *testing.T, dir, _ string) { require.NoError(t, os.Mkdir(dir, 0o700)) }},
		{"the expected photos", func(t *testing.T, dir, _ string) {
			file(t, filepath.Join(dir, "k1"))
			file(t, filepath.Join(dir, "k2"))
		}},
		{"more than expected: an interrupted write", func(t *testing.T, dir, _ string) {
			file(t, filepath.Join(dir, "k1"))
			file(t, filepath.Join(dir, "k3.tmp"))
		}},
		{"more files than one directory read returns", func(t *testing.T, dir, _ string) {
			for i := range 700 { // about 30 KiB of directory entries: several reads
				file(t, filepath.Join(dir, fmt.Sprintf("photo-with-a-long-key-%04d", i)))
			}
		}},
		{"a subdirectory", func(t *testing.T, dir, _ string) {
			file(t, filepath.Join(dir, "sub", "deeper", "k1"))
			file(t, filepath.Join(dir, "k2"))
		}},
		{"a symbolic link to a directory outside", func(t *testing.T, dir, outside string) {
			require.NoError(t, os.Symlink(outside, dir))
		}},
		{"a file", func(t *testing.T, dir, _ string) { file(t, dir) }},
	} {
		for _, purge := range []struct {
			name string
			fn   func(b *stores.Builtin) error
		}{
			{"by person", func(b *stores.Builtin) error { return b.PurgePhotos(context.Background(), byPerson("p1")) }},
			{"by expected keys", func(b *stores.Builtin) error {
				// "k1" and "k2" also name files in the directory a symbolic link points to.
				return b.PurgePhotos(context.Background(), []events.PersonPhotos{{PersonID: "p1", PhotoKeys: []string{"k1", "k2"}}})
			}},
		} {
			t.Run(tc.name+"/"+purge.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, sqldb.SQLite)
				outside := filepath.Join(e.root, "outside")
				file(t, filepath.Join(outside, "k1"))
				file(t, filepath.Join(outside, "k2"))
				e.register(t, "neighbour", 1)
				tc.layout(t, filepath.Join(e.photos, "p1"), outside)

				require.NoError(t, purge.fn(e.b))
				_, err := os.Lstat(filepath.Join(e.photos, "p1"))
				require.ErrorIs(t, err, os.ErrNotExist)
				require.Equal(t, []string{"outside/k1", "outside/k2", "photos/neighbour.pack"}, e.files(t))
				require.NoError(t, purge.fn(e.b)) // idempotent
			})
		}
	}
}

// A photo key is a path component: one that is not an ID is refused before anything is removed.
func TestPurgePhotosRefusesAKeyThatIsNoID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqldb.SQLite)
	e.register(t, "p1", 1)
	for _, key := range []string{"../neighbour", "..", "a/b", ""} {
		err := e.b.PurgePhotos(context.Background(), []events.PersonPhotos{{PersonID: "p1", PhotoKeys: []string{key}}})
		require.Error(t, err, "%q", key)
	}
	require.Equal(t, []string{"photos/p1.pack"}, e.files(t))
}

// byPerson names persons without the photo keys they are expected to hold.
func byPerson(ids ...string) []events.PersonPhotos {
	photos := make([]events.PersonPhotos, len(ids))
	for i, id := range ids {
		photos[i] = events.PersonPhotos{PersonID: id}
	}
	return photos
}

// TestPhotoPacks: a person's photos live in one pack, which a face added later joins and a
// purge removes with one unlink; a store an earlier version wrote (a directory of one file a
// photo) is still read and purged, and a temporary pack an interrupted write left is purged.
func TestPhotoPacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, sqldb.SQLite)
	recs := e.register(t, "p1", 2)

	// A face added later joins the pack; a retried registration rewrites a photo in place.
	more := faces("p1", 3)[2:]
	require.NoError(t, e.b.Register(ctx, "p1", more, nil))
	recs[0].Photo = []byte("a better photo")
	require.NoError(t, e.b.Register(ctx, "p1", recs[:1], nil))
	require.Equal(t, []string{"p1-k0", "p1-k1", "p1-k2"}, e.keys(t, "p1"))
	for _, f := range append(recs, more...) {
		got, err := e.b.Photo("p1", f.PhotoKey)
		require.NoError(t, err)
		require.Equal(t, f.Photo, got)
	}

	// A first pack a crash left half written is not the person's photos, and the next rewrite
	// removes it: its photos must not outlive the face they belonged to.
	stale := filepath.Join(e.photos, "p1.pack.tmp")
	require.NoError(t, os.WriteFile(stale, []byte("a photo of a face removed since"), 0o600))
	require.NoError(t, e.b.RemoveFace(ctx, "p1", "p1-f9", "p1-k9")) // no such photo: the pack stays as it is
	_, err := os.Lstat(stale)
	require.ErrorIs(t, err, os.ErrNotExist, "the rewrite removed the stale first pack")
	require.Equal(t, []string{"p1-k0", "p1-k1", "p1-k2"}, e.keys(t, "p1"))

	// A store an earlier version wrote: read, listed, and purged with the pack.
	legacy := filepath.Join(e.photos, "old")
	require.NoError(t, os.MkdirAll(legacy, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(legacy, "old-k0"), []byte("old photo"), 0o600))
	got, err := e.b.Photo("old", "old-k0")
	require.NoError(t, err)
	require.Equal(t, []byte("old photo"), got)
	require.Equal(t, []string{"old-k0"}, e.keys(t, "old"))
	require.Equal(t, []string{"photo_store:old"}, e.leftovers(t, "old"))

	// Packs being written when the process died.
	require.NoError(t, os.WriteFile(filepath.Join(e.photos, "gone.pack.tmp"), []byte("half a pack"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(e.photos, "gone2.pack.new"), []byte("half a pack"), 0o600))
	require.Equal(t, []string{"photo_store:gone", "photo_store:gone2"}, e.leftovers(t, "gone", "gone2"))

	require.NoError(t, e.b.PurgePhotos(ctx, []events.PersonPhotos{
		{PersonID: "p1", PhotoKeys: []string{"p1-k0", "p1-k1", "p1-k2"}}, {PersonID: "old", PhotoKeys: []string{"old-k0"}}, {PersonID: "gone"}, {PersonID: "gone2"},
	}))
	require.Empty(t, e.files(t))
	require.Equal(t, []string{"face_index:p1"}, e.leftovers(t, "p1", "old", "gone", "gone2"), "only the face records, for the next step")
	_, err = e.b.Photo("p1", "p1-k0")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// Faces added to one person at the same moment, through two stores sharing the photo directory
// (two replicas), all keep their photos: each rewrite of the pack starts from the one before.
func TestPhotoPackConcurrentFaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqldb.SQLite)
	other, err := stores.NewBuiltin(e.db, e.photos)
	require.NoError(t, err)
	for _, person := range []string{"new", "known"} {
		if person == "known" {
			e.register(t, person, 1)
		}
		recs := faces(person, 24)[1:]
		var wg sync.WaitGroup
		for i, f := range recs {
			b := e.b
			if i%2 == 1 {
				b = other
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, b.Register(context.Background(), person, []app.FaceRecord{f}, nil))
			}()
		}
		wg.Wait()
		want := len(recs)
		if person == "known" {
			want++
		}
		require.Len(t, e.keys(t, person), want, person)
	}
	require.Equal(t, []string{"photos/known.pack", "photos/new.pack"}, e.files(t), "no temporary file is left")
}

// A pack damaged from outside is an error, not a photo.
func TestPhotoPackCorrupt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqldb.SQLite)
	e.register(t, "p1", 1)
	path := filepath.Join(e.photos, "p1.pack")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for name, bad := range map[string][]byte{
		"no header": []byte("not a pack"),
		"truncated": data[:len(data)-3],
	} {
		require.NoError(t, os.WriteFile(path, bad, 0o600))
		_, err := e.b.Photo("p1", "p1-k0")
		require.Error(t, err, name)
		require.NotErrorIs(t, err, os.ErrNotExist, name)
	}
}

// A face removed while the person's photos are purged never brings the others back: the
// rewrite's read and rename, and the purge's unlink, take the store's lock in turn.
func TestPurgeWhileAFaceIsRemoved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqldb.SQLite)
	ctx := context.Background()
	for i := range 150 {
		person := fmt.Sprintf("p%d", i)
		e.register(t, person, 3)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			assert.NoError(t, e.b.RemoveFace(ctx, person, person+"-f0", person+"-k0"))
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%7) * 100 * time.Microsecond) // now before, now within the rewrite
			assert.NoError(t, e.b.PurgePhotos(ctx, byPerson(person)))
		}()
		wg.Wait()
		require.Empty(t, e.keys(t, person), "photos of %s came back after the purge", person)
	}
}
