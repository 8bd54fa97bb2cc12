package sophon_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/pgtest"
	"github.com/erasure-dev/erasure/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }

// photo returns a small PNG; seed makes each one's bytes distinct.
func photo(t testing.TB, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{uint8(seed), uint8(seed >> 8), uint8(i), 255})
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func b64(p []byte) string { return base64.StdEncoding.EncodeToString(p) }

type client struct {
	t    testing.TB
	base string
}

func (c client) do(method, path, contentType, body string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	require.NoError(c.t, json.Unmarshal(raw, &out), "body %s", raw)
	return resp.StatusCode, out
}

// sophon calls a Sophon endpoint and requires a 200.
func (c client) sophon(action string, body any) map[string]any {
	c.t.Helper()
	status, out := c.sophonRaw(action, body)
	require.Equal(c.t, http.StatusOK, status, "%s: %v", action, out)
	return out
}

// sophonErr calls a Sophon endpoint and requires the error code (status 400 unless noted).
func (c client) sophonErr(action string, body any, code string) {
	c.t.Helper()
	status, out := c.sophonRaw(action, body)
	require.Equal(c.t, http.StatusBadRequest, status, "%s: %v", action, out)
	requireCode(c.t, out, code)
}

func (c client) sophonRaw(action string, body any) (int, map[string]any) {
	c.t.Helper()
	s, ok := body.(string)
	if !ok {
		raw, err := json.Marshal(body)
		require.NoError(c.t, err)
		s = string(raw)
	}
	return c.do(http.MethodPost, "/sophon/v2/face/"+action, "application/json", s)
}

func (c client) native(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	return c.do(method, path, "application/json", body)
}

func requireCode(t testing.TB, out map[string]any, code string) {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	require.True(t, ok, "not an error answer: %v", out)
	require.Equal(t, code, e["code"], out)
	require.NotEmpty(t, e["message"], out)
}

func strs(v any) []string {
	out := []string{}
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// photoFiles lists the keys of the registration photos stored for a person.
func photoFiles(t testing.TB, env *testenv.Env, personID string) []string {
	t.Helper()
	keys, err := env.Svc.Stores.PhotoKeys(personID)
	require.NoError(t, err)
	return keys
}

func count(t testing.TB, db interface {
	GetContext(context.Context, any, string, ...any) error
	Rebind(string) string
}, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.GetContext(context.Background(), &n, db.Rebind(query), args...))
	return n
}

func TestDeleteIdentitiesAnswersPerID(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		for i, id := range []string{"p1", "p2", "keep"} {
			status, out := c.native(http.MethodPost, "/v1/persons", fmt.Sprintf(
				`{"person_id":%q,"name":"Name %d","permission_group_ids":["door-1"],"photos":[{"image_base64":%q}]}`, id, i, b64(photo(t, i))))
			require.Equal(t, http.StatusCreated, status, out)
			require.Len(t, photoFiles(t, env, id), 1)
		}

		ans := c.sophon("deleteidentities", map[string]any{"identity_ids": []string{"p1", "ghost", "p2"}})

		require.Equal(t, []string{"p1", "p2"}, strs(ans["success_identity_ids"]))
		require.Equal(t, []string{"ghost"}, strs(ans["failed_identity_ids"]))
		require.Empty(t, strs(ans["pending_identity_ids"]))
		require.NotEmpty(t, ans["request_id"])
		// Really gone, at once: the person, its photos, its face records and bindings downstream.
		for _, id := range []string{"p1", "p2"} {
			status, _ := c.native(http.MethodGet, "/v1/persons/"+id, "")
			require.Equal(t, http.StatusNotFound, status, id)
			require.Empty(t, photoFiles(t, env, id), id)
			require.Zero(t, count(t, env.Svc.DBs.Stores, `SELECT COUNT(*) FROM face_index WHERE person_id = ?`, id))
			require.Zero(t, count(t, env.Svc.DBs.Stores, `SELECT COUNT(*) FROM permission_directory WHERE person_id = ?`, id))
			c.sophonErr("getidentity", map[string]string{"identity_id": id}, "ID_NOT_FOUND")
		}
		// The same deletion on the native API, with the per-ID outcomes.
		status, d := c.native(http.MethodGet, "/v1/deletions/"+ans["request_id"].(string), "")
		require.Equal(t, http.StatusOK, status, d)
		require.Equal(t, 0.0, d["pending"])
		require.Equal(t, 2.0, d["deleted"])
		require.Equal(t, 1.0, d["failed"])
		// The others are untouched.
		status, p := c.native(http.MethodGet, "/v1/persons/keep", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "active", p["state"])
		require.Len(t, photoFiles(t, env, "keep"), 1)

		// Deleting again: nothing left to delete, so every ID is failed.
		ans = c.sophon("deleteidentities", map[string]any{"identity_ids": []string{"p1"}})
		require.Empty(t, strs(ans["success_identity_ids"]))
		require.Equal(t, []string{"p1"}, strs(ans["failed_identity_ids"]))
	})
}

func TestDeleteIdentitiesListsWhatOutlivesTheWait(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.SophonWait = time.Nanosecond // answer before any saga can finish
	env := testenv.Start(t, cfg)
	c := client{t, env.HTTP.URL}
	status, out := c.native(http.MethodPost, "/v1/persons", fmt.Sprintf(`{"person_id":"slow","name":"N","photos":[{"image_base64":%q}]}`, b64(photo(t, 1))))
	require.Equal(t, http.StatusCreated, status, out)

	ans := c.sophon("deleteidentities", map[string]any{"identity_ids": []string{"slow"}})

	require.Equal(t, []string{"slow"}, strs(ans["pending_identity_ids"]))
	require.Empty(t, strs(ans["success_identity_ids"]))
	require.Empty(t, strs(ans["failed_identity_ids"]))
	// The deletion runs on and completes.
	require.Eventually(t, func() bool {
		status, d := c.native(http.MethodGet, "/v1/deletions/"+ans["request_id"].(string), "")
		return status == http.StatusOK && d["state"] == "completed" && d["deleted"] == 1.0
	}, 30*time.Second, 50*time.Millisecond)
	status, _ = c.native(http.MethodGet, "/v1/persons/slow", "")
	require.Equal(t, http.StatusNotFound, status)
}

func TestDeleteIdentitiesRefusalsDeleteNothing(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		status, out := c.native(http.MethodPost, "/v1/persons", fmt.Sprintf(`{"person_id":"p1","name":"N","photos":[{"image_base64":%q}]}`, b64(photo(t, 1))))
		require.Equal(t, http.StatusCreated, status, out)

		tooMany := make([]string, 1001)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf("id%d", i)
		}
		tooMany[0] = "p1"
		tooManyJSON, _ := json.Marshal(map[string]any{"identity_ids": tooMany})
		tests := []struct {
			name, ctype, body, code string
		}{
			{"not JSON", "application/json", `{"identity_ids":["p1"`, "INVALID_REQUEST_JSON"},
			{"trailing data", "application/json", `{"identity_ids":["p1"]} {}`, "INVALID_REQUEST_JSON"},
			{"empty body", "application/json", ``, "INVALID_REQUEST_JSON"},
			{"text/plain", "text/plain", `{"identity_ids":["p1"]}`, "UNSUPPORT_CONTENT_TYPE"},
			{"form", "application/x-www-form-urlencoded", `{"identity_ids":["p1"]}`, "UNSUPPORT_CONTENT_TYPE"},
			{"no content type", "", `{"identity_ids":["p1"]}`, "UNSUPPORT_CONTENT_TYPE"},
			{"no identity_ids", "application/json", `{}`, "MISSING_ARGUMENTS"},
			{"null identity_ids", "application/json", `{"identity_ids":null}`, "MISSING_ARGUMENTS"},
			{"empty identity_ids", "application/json", `{"identity_ids":[]}`, "MISSING_ARGUMENTS"},
			{"identity_ids a string", "application/json", `{"identity_ids":"p1"}`, "INVALID_ARGUMENTS"},
			{"numbers", "application/json", `{"identity_ids":["p1",1]}`, "INVALID_ARGUMENTS"},
			{"body a list", "application/json", `["p1"]`, "INVALID_ARGUMENTS"},
			{"body null", "application/json", `null`, "INVALID_ARGUMENTS"},
			{"illegal id", "application/json", `{"identity_ids":["p1","a.b"]}`, "INVALID_ARGUMENTS"},
			{"empty id", "application/json", `{"identity_ids":["p1",""]}`, "INVALID_ARGUMENTS"},
			{"null id", "application/json", `{"identity_ids":["p1",null]}`, "INVALID_ARGUMENTS"},
			{"id of 65 characters", "application/json", `{"identity_ids":["p1","` + strings.Repeat("a", 65) + `"]}`, "INVALID_ARGUMENTS"},
			{"over the per-call limit", "application/json", string(tooManyJSON), "INVALID_ARGUMENTS"},
			{"the same id twice", "application/json", `{"identity_ids":["p1","x","p1"]}`, "ID_REPEAT_ERROR"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, out := c.do(http.MethodPost, "/sophon/v2/face/deleteidentities", tt.ctype, tt.body)
				require.Equal(t, http.StatusBadRequest, status, out)
				requireCode(t, out, tt.code)
			})
		}

		// Nothing was recorded, nothing deleted.
		require.Zero(t, count(t, env.Svc.DBs.ReadModel, `SELECT COUNT(*) FROM deletions`))
		status, p := c.native(http.MethodGet, "/v1/persons/p1", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "active", p["state"])
		require.Len(t, photoFiles(t, env, "p1"), 1)
	})
}

func TestPermissionLifecycle(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		bindings := func(personID, groupID string) int {
			return count(t, env.Svc.DBs.Stores, `SELECT COUNT(*) FROM permission_directory WHERE person_id = ? AND permission_group_id = ?`, personID, groupID)
		}

		// create
		first := map[string]any{"permission_id": "270ec5e6", "permission_name": "测试组", "description": "this is a first test permission"}
		require.Equal(t, first, c.sophon("createpermission", first))
		second := c.sophon("createpermission", map[string]string{"permission_name": "Second"})
		require.NotEmpty(t, second["permission_id"], "generated when not given")
		require.Equal(t, "Second", second["permission_name"])
		c.sophonErr("createpermission", map[string]string{"permission_id": "other", "permission_name": "测试组"}, "NAME_REPEAT_ERROR")
		c.sophonErr("createpermission", map[string]string{"permission_id": "270ec5e6", "permission_name": "Third"}, "ID_REPEAT_ERROR")
		c.sophonErr("createpermission", map[string]string{"permission_id": "x"}, "MISSING_ARGUMENTS")
		c.sophonErr("createpermission", map[string]string{"permission_id": "a b", "permission_name": "Fourth"}, "INVALID_ARGUMENTS")
		c.sophonErr("createpermission", map[string]any{"permission_name": 5}, "INVALID_ARGUMENTS")
		c.sophonErr("getpermission", map[string]string{"permission_id": "other"}, "ID_NOT_FOUND") // the refused create left nothing

		// read
		require.Equal(t, first, c.sophon("getpermission", map[string]string{"permission_id": "270ec5e6"}))
		require.Equal(t, first, c.sophon("getpermission", map[string]string{"permission_name": "测试组"}))
		c.sophonErr("getpermission", map[string]string{"permission_name": "nope"}, "ID_NOT_FOUND")
		c.sophonErr("getpermission", map[string]string{}, "MISSING_ARGUMENTS")
		list := c.sophon("getpermissions", map[string]string{"permission_name": "测试"})
		require.Equal(t, []any{first}, list["permissions"])
		require.Equal(t, map[string]any{"page_index": 0.0, "page_limit": 10.0, "total_count": 1.0}, list["pagination"])
		list = c.sophon("getpermissions", map[string]int{"page_limit": 1, "page_index": 1})
		require.Len(t, list["permissions"], 1)
		require.Equal(t, "Second", list["permissions"].([]any)[0].(map[string]any)["permission_name"])
		require.Equal(t, 2.0, list["pagination"].(map[string]any)["total_count"])
		c.sophonErr("getpermissions", map[string]int{"page_limit": 0}, "INVALID_ARGUMENTS")

		// Members: a Sophon identity, and a native person whose unknown permission group is created.
		c.sophon("createidentity", map[string]any{"identity_id": "m1", "register_image": b64(photo(t, 1)), "permission_ids": []string{"270ec5e6"}})
		status, out := c.native(http.MethodPost, "/v1/persons", `{"person_id":"m2","name":"N","permission_group_ids":["270ec5e6","door-9"]}`)
		require.Equal(t, http.StatusCreated, status, out)
		require.Equal(t, map[string]any{"permission_id": "door-9", "permission_name": "door-9", "description": ""},
			c.sophon("getpermission", map[string]string{"permission_id": "door-9"}))
		require.Equal(t, 1, bindings("m1", "270ec5e6"))
		require.Equal(t, 1, bindings("m2", "270ec5e6"))
		// An unknown permission group is refused by Sophon, and nothing of the identity is kept.
		c.sophonErr("createidentity", map[string]any{"identity_id": "m3", "register_image": b64(photo(t, 3)), "permission_ids": []string{"nope"}}, "ID_NOT_FOUND")
		c.sophonErr("getidentity", map[string]string{"identity_id": "m3"}, "ID_NOT_FOUND")
		require.Empty(t, photoFiles(t, env, "m3"))
		c.sophonErr("getpermission", map[string]string{"permission_id": "nope"}, "ID_NOT_FOUND")

		// delete, by name: the members are unbound everywhere before the answer.
		require.Equal(t, map[string]any{"permission_id": "270ec5e6"}, c.sophon("deletepermission", map[string]string{"permission_name": "测试组"}))
		require.Empty(t, strs(c.sophon("getidentity", map[string]string{"identity_id": "m1"})["permission_ids"]))
		status, p := c.native(http.MethodGet, "/v1/persons/m2", "")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, []string{"door-9"}, strs(p["permission_group_ids"]))
		require.Zero(t, bindings("m1", "270ec5e6"))
		require.Zero(t, bindings("m2", "270ec5e6"))
		require.Equal(t, 1, bindings("m2", "door-9"))
		c.sophonErr("getpermission", map[string]string{"permission_id": "270ec5e6"}, "ID_NOT_FOUND")
		c.sophonErr("deletepermission", map[string]string{"permission_id": "270ec5e6"}, "ID_NOT_FOUND")
		c.sophonErr("deletepermission", map[string]string{"permission_name": "测试组"}, "ID_NOT_FOUND")
		c.sophonErr("deletepermission", map[string]string{}, "MISSING_ARGUMENTS")
		c.sophonErr("createidentity", map[string]any{"identity_id": "m4", "register_image": b64(photo(t, 4)), "permission_ids": []string{"270ec5e6"}}, "ID_NOT_FOUND")
		// The per-person fact is in each member's history (the log), not only in the tables.
		for _, id := range []string{"m1", "m2"} {
			history, _, err := env.Svc.Log.Load(context.Background(), "person", id)
			require.NoError(t, err)
			require.Equal(t, "PermissionGroupUnbound", history[len(history)-1].Type, id)
		}

		// The name is free again, the id too; the members stay as they are.
		again := c.sophon("createpermission", map[string]string{"permission_id": "270ec5e6", "permission_name": "测试组"})
		require.Equal(t, "测试组", again["permission_name"])
		require.Empty(t, strs(c.sophon("getidentity", map[string]string{"identity_id": "m1"})["permission_ids"]))

		// Everything survives a restart: the log, the read model and the name reservations agree.
		env.Restart()
		c = client{t, env.HTTP.URL}
		c.sophonErr("createpermission", map[string]string{"permission_id": "y", "permission_name": "测试组"}, "NAME_REPEAT_ERROR")
		require.Equal(t, 3.0, c.sophon("getpermissions", map[string]any{})["pagination"].(map[string]any)["total_count"])
	})
}

func TestIdentitiesAndFaces(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		img1, img2 := photo(t, 1), photo(t, 2)

		// create with an image (as a data: URL), read it back
		created := c.sophon("createidentity", map[string]any{
			"identity_id": "100000", "identity_name": "小王", "register_image": "data:image/png;base64," + b64(img1),
			"user_type": "visitor", "ext_user_info": map[string]any{"mobile": "13800000000", "floor": 3}, "fiqa_level": "low",
		})
		require.Equal(t, "100000", created["identity_id"])
		face1, image1 := created["face_id"].(string), created["register_image_id"].(string)
		require.NotEmpty(t, face1)
		require.NotEmpty(t, image1)
		require.Equal(t, map[string]any{
			"identity_id":        "100000",
			"identity_name":      "小王",
			"user_type":          "visitor",
			"permission_ids":     []any{},
			"ext_user_info":      map[string]any{"mobile": "13800000000", "floor": 3.0},
			"face_ids":           []any{face1},
			"register_image_ids": []any{image1},
		}, c.sophon("getidentity", map[string]string{"identity_id": "100000"}))

		// the registration photo, byte for byte, in both forms
		got := c.sophon("getregisterimage", map[string]string{"register_image_id": image1})
		require.Equal(t, "100000", got["identity_id"])
		raw, err := base64.StdEncoding.DecodeString(got["register_image"].(string))
		require.NoError(t, err)
		require.Equal(t, img1, raw)
		resp, err := http.Get(env.HTTP.URL + "/sophon/v2/face/getregisterimage/" + image1)
		require.NoError(t, err)
		file, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		require.Equal(t, img1, file)
		c.sophonErr("getregisterimage", map[string]string{"register_image_id": image1, "identity_id": "other"}, "ID_NOT_FOUND")
		c.sophonErr("getregisterimage", map[string]string{"register_image_id": "nope"}, "ID_NOT_FOUND")
		c.sophonErr("getregisterimage", map[string]string{}, "MISSING_ARGUMENTS")

		// create with a feature vector, generated id and default name
		feature := []float32{0.5, -1, 2.25, float32(math.Pi)}
		byFeature := c.sophon("createidentity", map[string]any{"register_feature": feature})
		fid := byFeature["identity_id"].(string)
		require.NotEmpty(t, fid)
		ident := c.sophon("getidentity", map[string]string{"identity_id": fid})
		require.Equal(t, "佚名", ident["identity_name"])
		require.Equal(t, "employee", ident["user_type"])
		require.Equal(t, map[string]any{}, ident["ext_user_info"])
		var stored []byte
		require.NoError(t, env.Svc.DBs.Stores.GetContext(context.Background(), &stored,
			env.Svc.DBs.Stores.Rebind(`SELECT feature FROM face_index WHERE face_id = ?`), byFeature["face_id"]))
		want := []byte{}
		for _, f := range feature {
			want = binary.LittleEndian.AppendUint32(want, math.Float32bits(f))
		}
		require.Equal(t, want, stored)
		require.Empty(t, photoFiles(t, env, fid), "a feature has no photo")
		c.sophonErr("getregisterimage", map[string]string{"register_image_id": byFeature["register_image_id"].(string)}, "ID_NOT_FOUND")

		// refused creations
		refusals := []struct {
			name string
			body map[string]any
			code string
		}{
			{"image path", map[string]any{"identity_id": "x1", "register_image_path": "/data/image/test.jpg"}, "INVALID_ARGUMENTS"},
			{"no face", map[string]any{"identity_id": "x1"}, "MISSING_ARGUMENTS"},
			{"image and feature", map[string]any{"identity_id": "x1", "register_image": b64(img1), "register_feature": feature}, "INVALID_ARGUMENTS"},
			{"not an image", map[string]any{"identity_id": "x1", "register_image": b64([]byte("hello"))}, "IMAGE_DECODE_ERROR"},
			{"image over 5 MB", map[string]any{"identity_id": "x1", "register_image": strings.Repeat("A", 5*1024*1024+4)}, "IMAGE_SIZE_TOO_LARGE_ERROR"},
			{"feature of strings", map[string]any{"identity_id": "x1", "register_feature": []string{"a"}}, "INVALID_ARGUMENTS"},
			{"taken id", map[string]any{"identity_id": "100000", "register_image": b64(img2)}, "ID_REPEAT_ERROR"},
			{"illegal id", map[string]any{"identity_id": "a/b", "register_image": b64(img2)}, "INVALID_ARGUMENTS"},
			{"bad user type", map[string]any{"identity_id": "x1", "register_image": b64(img2), "user_type": "boss"}, "INVALID_ARGUMENTS"},
			{"bad fiqa level", map[string]any{"identity_id": "x1", "register_image": b64(img2), "fiqa_level": "max"}, "INVALID_ARGUMENTS"},
			{"ext_user_info not an object", map[string]any{"identity_id": "x1", "register_image": b64(img2), "ext_user_info": []int{1}}, "INVALID_ARGUMENTS"},
			{"name too long", map[string]any{"identity_id": "x1", "register_image": b64(img2), "identity_name": strings.Repeat("名", 61)}, "INVALID_ARGUMENTS"},
			{"permission twice", map[string]any{"identity_id": "x1", "register_image": b64(img2), "permission_ids": []string{"a", "a"}}, "ID_REPEAT_ERROR"},
		}
		for _, tt := range refusals {
			t.Run(tt.name, func(t *testing.T) { c.sophonErr("createidentity", tt.body, tt.code) })
		}
		c.sophonErr("getidentity", map[string]string{"identity_id": "x1"}, "ID_NOT_FOUND")
		require.Empty(t, photoFiles(t, env, "x1"))
		status, out := c.do(http.MethodPost, "/sophon/v2/face/createidentity", "text/plain", `{}`)
		require.Equal(t, http.StatusBadRequest, status)
		requireCode(t, out, "UNSUPPORT_CONTENT_TYPE")

		// addface: the new face comes last
		added := c.sophon("addface", map[string]any{"identity_id": "100000", "register_image": b64(img2)})
		require.Equal(t, 2.0, added["total_face_cnt"])
		faceIDs, imageIDs := strs(added["face_ids"]), strs(added["register_image_ids"])
		require.Equal(t, face1, faceIDs[0])
		require.Equal(t, image1, imageIDs[0])
		require.Len(t, photoFiles(t, env, "100000"), 2)
		c.sophonErr("addface", map[string]any{"identity_id": "ghost", "register_image": b64(img2)}, "ID_NOT_FOUND")
		c.sophonErr("addface", map[string]any{"register_image": b64(img2)}, "MISSING_ARGUMENTS")
		c.sophonErr("addface", map[string]any{"identity_id": "100000", "register_image_path": "/tmp/x.jpg"}, "INVALID_ARGUMENTS")

		// deleteface by register_image_id (it wins over face_id), then by face_id
		left := c.sophon("deleteface", map[string]string{"identity_id": "100000", "register_image_id": image1, "face_id": faceIDs[1]})
		require.Equal(t, map[string]any{"identity_id": "100000", "total_face_cnt": 1.0, "face_ids": []any{faceIDs[1]}, "register_image_ids": []any{imageIDs[1]}}, left)
		require.Equal(t, []string{imageIDs[1]}, photoFiles(t, env, "100000"), "the deleted face's photo is gone")
		require.Zero(t, count(t, env.Svc.DBs.Stores, `SELECT COUNT(*) FROM face_index WHERE face_id = ?`, face1))
		c.sophonErr("getregisterimage", map[string]string{"register_image_id": image1}, "ID_NOT_FOUND")
		c.sophonErr("deleteface", map[string]string{"identity_id": "100000", "face_id": face1}, "ID_NOT_FOUND")
		c.sophonErr("deleteface", map[string]string{"identity_id": "100000"}, "MISSING_ARGUMENTS")
		left = c.sophon("deleteface", map[string]string{"identity_id": "100000", "face_id": faceIDs[1]})
		require.Equal(t, 0.0, left["total_face_cnt"])
		require.Empty(t, photoFiles(t, env, "100000"))

		// force_replace deletes the old identity through a deletion, then registers anew
		replaced := c.sophon("createidentity", map[string]any{"identity_id": "100000", "register_image": b64(img1), "force_replace": true})
		ident = c.sophon("getidentity", map[string]string{"identity_id": "100000"})
		require.Equal(t, "佚名", ident["identity_name"], "nothing of the old identity is left")
		require.Equal(t, []any{replaced["face_id"]}, ident["face_ids"])
	})
}

func TestGetIdentitiesPages(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		c.sophon("createpermission", map[string]string{"permission_id": "door", "permission_name": "Door"})
		var ids []string
		for i := range 5 {
			id := fmt.Sprintf("z%d", i)
			body := map[string]any{"identity_id": id, "identity_name": fmt.Sprintf("张三%d", i), "register_image": b64(photo(t, i))}
			if i%2 == 0 {
				body["permission_ids"] = []string{"door"}
			}
			c.sophon("createidentity", body)
			ids = append(ids, id)
		}
		c.sophon("createidentity", map[string]any{"identity_id": "a-li", "identity_name": "李四", "register_feature": []float32{1}})
		identityIDs := func(out map[string]any) []string {
			var got []string
			for _, x := range out["identities"].([]any) {
				got = append(got, x.(map[string]any)["identity_id"].(string))
			}
			return got
		}

		tests := []struct {
			name  string
			body  map[string]any
			ids   []string
			page  map[string]any
			total float64
		}{
			{"everyone, default page", map[string]any{}, append(slices.Clone(ids), "a-li"), map[string]any{"page_index": 0.0, "page_limit": 10.0}, 6},
			{"second page of two", map[string]any{"page_limit": 2, "page_index": 1}, ids[2:4], map[string]any{"page_index": 1.0, "page_limit": 2.0}, 6},
			{"past the end", map[string]any{"page_limit": 4, "page_index": 2}, nil, map[string]any{"page_index": 2.0, "page_limit": 4.0}, 6},
			{"by name", map[string]any{"filters": map[string]any{"identity_name": "张三"}, "page_limit": 3}, ids[:3], map[string]any{"page_index": 0.0, "page_limit": 3.0}, 5},
			{"by name, second page", map[string]any{"filters": map[string]any{"identity_name": "张三"}, "page_limit": 3, "page_index": 1}, ids[3:], map[string]any{"page_index": 1.0, "page_limit": 3.0}, 5},
			{"by permission", map[string]any{"filters": map[string]any{"permission_id_list": []string{"door"}}}, []string{"z0", "z2", "z4"}, map[string]any{"page_index": 0.0, "page_limit": 10.0}, 3},
			{"by id", map[string]any{"filters": map[string]any{"identity_id": "a-li"}}, []string{"a-li"}, map[string]any{"page_index": 0.0, "page_limit": 10.0}, 1},
			{"by name and permission", map[string]any{"filters": map[string]any{"identity_name": "三4", "permission_id_list": []string{"door"}}}, []string{"z4"}, map[string]any{"page_index": 0.0, "page_limit": 10.0}, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out := c.sophon("getidentities", tt.body)
				require.Equal(t, tt.ids, identityIDs(out))
				tt.page["total_count"] = tt.total
				require.Equal(t, tt.page, out["pagination"])
			})
		}
		first := c.sophon("getidentities", map[string]any{"filters": map[string]any{"identity_id": "z0"}})["identities"].([]any)[0].(map[string]any)
		require.Equal(t, "张三0", first["identity_name"])
		require.Equal(t, []any{"door"}, first["permission_ids"])

		c.sophonErr("getidentities", map[string]any{"filters": map[string]any{"permission_id_list": []string{"nope"}}}, "ID_NOT_FOUND")
		c.sophonErr("getidentities", map[string]any{"page_limit": 0}, "INVALID_ARGUMENTS")
		c.sophonErr("getidentities", map[string]any{"page_index": -1}, "INVALID_ARGUMENTS")
		c.sophonErr("getidentities", map[string]any{"page_limit": "10"}, "INVALID_ARGUMENTS")
		c.sophonErr("getidentities", map[string]any{"filters": map[string]any{"identity_id": "a.b"}}, "INVALID_ARGUMENTS")

		// A deleted identity leaves every page at once.
		c.sophon("deleteidentities", map[string]any{"identity_ids": []string{"z1"}})
		out := c.sophon("getidentities", map[string]any{"filters": map[string]any{"identity_name": "张三"}})
		require.Equal(t, []string{"z0", "z2", "z3", "z4"}, identityIDs(out))
	})
}

func TestUnknownEndpoint(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	status, out := c.do(http.MethodPost, "/sophon/v2/face/nothing", "application/json", `{}`)
	require.Equal(t, http.StatusNotFound, status)
	requireCode(t, out, "API_NOT_FOUND")
	status, out = c.do(http.MethodGet, "/sophon/v2/face/getidentity", "", "")
	require.Equal(t, http.StatusNotFound, status)
	requireCode(t, out, "API_NOT_FOUND")
}

func TestDeletePermissionRacingRegistrations(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env := testenv.Start(t, testenv.Config(t, dialect))
		c := client{t, env.HTTP.URL}
		c.sophon("createpermission", map[string]string{"permission_id": "gate", "permission_name": "Gate"})
		for i := range 5 {
			c.sophon("createidentity", map[string]any{"identity_id": fmt.Sprintf("early%d", i), "register_feature": []float32{float32(i)}, "permission_ids": []string{"gate"}})
		}

		// Registrations binding to the group race its deletion: each either lands before the
		// deletion (and is unbound by it), or is refused, or undoes its own binding.
		const n = 24
		var wg sync.WaitGroup
		codes := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, out := c.sophonRaw("createidentity", map[string]any{"identity_id": fmt.Sprintf("race%d", i), "register_feature": []float32{1}, "permission_ids": []string{"gate"}})
				codes[i] = "OK"
				if status != http.StatusOK {
					codes[i] = out["error"].(map[string]any)["code"].(string)
				}
			}()
		}
		c.sophon("deletepermission", map[string]string{"permission_id": "gate"})
		wg.Wait()

		for i, code := range codes {
			require.Contains(t, []string{"OK", "ID_NOT_FOUND", "INVALID_ARGUMENTS"}, code, "race%d", i)
		}
		require.Zero(t, count(t, env.Svc.DBs.ReadModel, `SELECT COUNT(*) FROM permission_bindings WHERE permission_group_id = 'gate'`))
		require.Zero(t, count(t, env.Svc.DBs.Stores, `SELECT COUNT(*) FROM permission_directory WHERE permission_group_id = 'gate'`))
		for i := range n {
			if codes[i] == "OK" {
				require.Empty(t, strs(c.sophon("getidentity", map[string]string{"identity_id": fmt.Sprintf("race%d", i)})["permission_ids"]))
			}
		}
	})
}

func TestNoPersonalDataInTheLog(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	const name, mobile = "Unmistakable Zhang Sanfeng", "13912345678"
	c.sophon("createidentity", map[string]any{"identity_id": "secret", "identity_name": name, "user_type": "blacklist",
		"ext_user_info": map[string]string{"mobile": mobile}, "register_feature": []float32{0.25}})
	require.Equal(t, name, c.sophon("getidentity", map[string]string{"identity_id": "secret"})["identity_name"])
	env.Stop()
	var scanned int
	require.NoError(t, filepath.WalkDir(filepath.Join(env.Config.DataDir, "jetstream"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, secret := range []string{name, "Sanfeng", mobile, "blacklist"} {
			require.NotContains(t, string(data), secret, path)
		}
		return nil
	}))
	require.Positive(t, scanned)
}
