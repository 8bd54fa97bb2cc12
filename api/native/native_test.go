package native_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
	"github.com/erasure-dev/erasure/service"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// photo returns a small PNG in base64; seed makes each one's bytes distinct.
func photo(t testing.TB, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(i), 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

type client struct {
	t    testing.TB
	base string
}

func (c client) do(method, path, contentType, body string) (int, map[string]any) {
	c.t.Helper()
	return testenv.Client{T: c.t, Base: c.base}.Do(method, path, contentType, body)
}

func (c client) post(path, body string) (int, map[string]any) {
	return c.do(http.MethodPost, path, "application/json", body)
}

func (c client) get(path string) (int, map[string]any) { return c.do(http.MethodGet, path, "", "") }

func TestCreateAndReadBack(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}

		status, g := c.post("/v1/groups", `{"group_id":"staff","name":"Staff","tag":"hq"}`)
		require.Equal(t, http.StatusCreated, status, g)
		require.Equal(t, map[string]any{"group_id": "staff", "name": "Staff", "tag": "hq", "state": "active", "person_count": 0.0}, g)

		body := fmt.Sprintf(`{"person_id":"p-1","name":"Li Lei","group_ids":["staff"],"permission_group_ids":["door-1","door-2"],
			"photos":[{"image_base64":%q},{"image_base64":"data:image/png;base64,%s"}]}`, photo(t, 1), photo(t, 2))
		status, created := c.post("/v1/persons", body)
		require.Equal(t, http.StatusCreated, status, created)
		faceIDs := created["face_ids"].([]any)
		require.Len(t, faceIDs, 2)

		// Read your writes: the very next read sees the person.
		status, p := c.get("/v1/persons/p-1")
		require.Equal(t, http.StatusOK, status, p)
		require.Equal(t, "active", p["state"])
		require.Equal(t, "Li Lei", p["name"])
		require.Equal(t, []any{"staff"}, p["group_ids"])
		require.ElementsMatch(t, []any{"door-1", "door-2"}, p["permission_group_ids"])
		require.ElementsMatch(t, faceIDs, p["face_ids"])

		status, g = c.get("/v1/groups/staff")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1.0, g["person_count"])

		status, list := c.get("/v1/persons?group_id=staff")
		require.Equal(t, http.StatusOK, status)
		require.Len(t, list["persons"], 1)

		status, _ = c.post("/v1/persons", `{"person_id":"p-2","name":"No Group","group_ids":[]}`)
		require.Equal(t, http.StatusCreated, status)

		// The same state after a restart (JetStream and the read model on disk).
		env.Restart()
		c = client{t, env.HTTP.URL}
		status, again := c.get("/v1/persons/p-1")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, p, again)
	})
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		status, _ := c.post("/v1/groups", `{"group_id":"g1","name":"G"}`)
		require.Equal(t, http.StatusCreated, status)
		status, _ = c.post("/v1/persons", `{"person_id":"taken","name":"T"}`)
		require.Equal(t, http.StatusCreated, status)

		ok := photo(t, 7)
		photos := func(n int) string {
			parts := make([]string, n)
			for i := range parts {
				parts[i] = fmt.Sprintf(`{"image_base64":%q}`, ok)
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
		big := strings.Repeat("A", 5*1024*1024+4)
		tests := []struct {
			name, path, ctype, body string
			status                  int
			code                    string
		}{
			{"malformed json", "/v1/persons", "application/json", `{"person_id":`, 400, "INVALID_JSON"},
			{"trailing data", "/v1/persons", "application/json", `{"person_id":"x","name":"n"} {}`, 400, "INVALID_JSON"},
			{"unknown field", "/v1/persons", "application/json", `{"person_id":"x","name":"n","age":3}`, 400, "UNKNOWN_FIELD"},
			{"wrong type", "/v1/persons", "application/json", `{"person_id":5,"name":"n"}`, 400, "INVALID_ARGUMENT"},
			{"missing id", "/v1/persons", "application/json", `{"name":"n"}`, 400, "MISSING_ARGUMENT"},
			{"missing name", "/v1/persons", "application/json", `{"person_id":"x"}`, 400, "MISSING_ARGUMENT"},
			{"illegal id", "/v1/persons", "application/json", `{"person_id":"a.b","name":"n"}`, 400, "INVALID_ID"},
			{"id too long", "/v1/persons", "application/json", `{"person_id":"` + strings.Repeat("a", 65) + `","name":"n"}`, 400, "ID_TOO_LONG"},
			{"name too long", "/v1/persons", "application/json", `{"person_id":"x","name":"` + strings.Repeat("名", 61) + `"}`, 400, "NAME_TOO_LONG"},
			{"undecodable image", "/v1/persons", "application/json", `{"person_id":"x","name":"n","photos":[{"image_base64":"aGVsbG8="}]}`, 400, "IMAGE_DECODE_ERROR"},
			{"image over 5 MB", "/v1/persons", "application/json", `{"person_id":"x","name":"n","photos":[{"image_base64":"` + big + `"}]}`, 413, "IMAGE_TOO_LARGE"},
			{"too many faces", "/v1/persons", "application/json", `{"person_id":"x","name":"n","photos":` + photos(6) + `}`, 400, "TOO_MANY_FACES"},
			{"duplicate group ids", "/v1/persons", "application/json", `{"person_id":"x","name":"n","group_ids":["g1","g1"]}`, 400, "DUPLICATE_ID"},
			{"unknown group", "/v1/persons", "application/json", `{"person_id":"x","name":"n","group_ids":["nope"]}`, 404, "GROUP_NOT_FOUND"},
			{"duplicate person", "/v1/persons", "application/json", `{"person_id":"taken","name":"n","photos":` + photos(1) + `}`, 409, "PERSON_EXISTS"},
			{"duplicate group", "/v1/groups", "application/json", `{"group_id":"g1","name":"again"}`, 409, "GROUP_EXISTS"},
			{"group illegal id", "/v1/groups", "application/json", `{"group_id":"g 2","name":"x"}`, 400, "INVALID_ID"},
			{"wrong content type", "/v1/groups", "text/csv", `{"group_id":"g2","name":"x"}`, 415, "UNSUPPORTED_MEDIA_TYPE"},
			{"bad limit", "/v1/persons?limit=0", "", "", 400, "INVALID_ARGUMENT"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				method := http.MethodPost
				if tt.body == "" {
					method = http.MethodGet
				}
				status, body := c.do(method, tt.path, tt.ctype, tt.body)
				require.Equal(t, tt.status, status, body)
				e := body["error"].(map[string]any)
				require.Equal(t, tt.code, e["code"], body)
				require.NotEmpty(t, e["message"])
			})
		}

		// Nothing changed: no new person, the taken one keeps no extra face, no photo was left behind.
		status, list := c.get("/v1/persons")
		require.Equal(t, http.StatusOK, status)
		require.Len(t, list["persons"], 1)
		status, p := c.get("/v1/persons/taken")
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, p["face_ids"])
		var files []string
		require.NoError(t, filepath.WalkDir(filepath.Join(env.Config.DataDir, "photos"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() != ".lock" { // the photo store's lock file holds nothing
				files = append(files, path)
			}
			return err
		}))
		require.Empty(t, files)
		status, _ = c.get("/v1/groups/g2")
		require.Equal(t, http.StatusNotFound, status)
	})
}

func TestConcurrentCreatesIntoOneGroup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		status, _ := c.post("/v1/groups", `{"group_id":"crowd","name":"Crowd"}`)
		require.Equal(t, http.StatusCreated, status)
		const n = 48
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], _ = c.post("/v1/persons", fmt.Sprintf(`{"person_id":"c%d","name":"n","group_ids":["crowd"]}`, i))
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			require.Equal(t, http.StatusCreated, s, "person c%d", i)
		}
		status, g := c.get("/v1/groups/crowd")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, float64(n), g["person_count"])
	})
}

func TestReadModelRebuildsFromTheLog(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		status, _ := c.post("/v1/groups", `{"group_id":"g","name":"G"}`)
		require.Equal(t, http.StatusCreated, status)
		for i := range 5 {
			status, _ = c.post("/v1/persons", fmt.Sprintf(`{"person_id":"r%d","name":"Name %d","group_ids":["g"],"permission_group_ids":["d"],"photos":[{"image_base64":%q}]}`, i, i, photo(t, i)))
			require.Equal(t, http.StatusCreated, status)
		}
		_, before := c.get("/v1/persons?limit=100")
		_, groupBefore := c.get("/v1/groups/g")

		env.Stop()
		dropReadModel(t, env, dialect)
		env.Restart()
		c = client{t, env.HTTP.URL}
		_, after := c.get("/v1/persons?limit=100")
		require.Equal(t, before, after)
		_, groupAfter := c.get("/v1/groups/g")
		require.Equal(t, groupBefore, groupAfter)
	})
}

// TestReadModelAheadOfTheLogRefusesToStart starts on a new, empty log beside a read model built
// from another one: following on from its checkpoint would skip the new log's first events, so
// the service refuses to start, saying why.
func TestReadModelAheadOfTheLogRefusesToStart(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		for i := range 3 {
			status, body := c.post("/v1/groups", fmt.Sprintf(`{"group_id":"old%d","name":"Old"}`, i))
			require.Equal(t, http.StatusCreated, status, body)
		}
		env.Stop()
		require.NoError(t, os.RemoveAll(filepath.Join(env.Config.DataDir, "jetstream")))
		_, err := service.Open(context.Background(), env.Config, testenv.Logger(), env.Options...)
		require.ErrorIs(t, err, service.ErrReadModelAhead)
		require.ErrorContains(t, err, "the log ends at 0")
		// Nothing was left open: the same directory starts again once the read model is gone.
		dropReadModel(t, env, dialect)
		env.Restart()
		c = client{t, env.HTTP.URL}
		status, body := c.post("/v1/groups", `{"group_id":"new","name":"New"}`)
		require.Equal(t, http.StatusCreated, status, body)
		status, body = c.get("/v1/groups/new")
		require.Equal(t, http.StatusOK, status, body)
	})
}

func dropReadModel(t *testing.T, env *testenv.Env, dialect string) {
	t.Helper()
	if dialect == "sqlite" {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			err := os.Remove(filepath.Join(env.Config.DataDir, "readmodel.db"+suffix))
			if err != nil && !os.IsNotExist(err) {
				require.NoError(t, err)
			}
		}
		return
	}
	testenv.DropPostgresSchema(t, env.Config.DatabaseURL, "erasure_rm")
}

func TestNoPlainNameInTheLog(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	const name = "Unmistakable Wang Xiaoming"
	status, _ := c.post("/v1/persons", fmt.Sprintf(`{"person_id":"secret","name":%q,"photos":[{"image_base64":%q}]}`, name, photo(t, 99)))
	require.Equal(t, http.StatusCreated, status)
	env.Stop()
	jsDir := filepath.Join(env.Config.DataDir, "jetstream")
	var scanned int
	require.NoError(t, filepath.WalkDir(jsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		require.NotContains(t, string(data), name, path)
		require.NotContains(t, string(data), "Xiaoming", path)
		return nil
	}))
	require.Positive(t, scanned)
}

func TestHealthAndReadiness(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	status, body := c.get("/healthz")
	require.Equal(t, http.StatusOK, status, body)
	status, body = c.get("/readyz")
	require.Equal(t, http.StatusOK, status, body)
	status, body = c.get("/v1/nothing-here")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "NOT_FOUND", body["error"].(map[string]any)["code"])
}
