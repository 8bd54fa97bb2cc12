package sophon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// A registration image's declared dimensions are checked from its header before any pixel is
// decoded: at most 4096 px a side (IMAGE_SIZE_TOO_LARGE_ERROR), no minimum. A refused image
// registers nothing, through createidentity or addface.
func TestImageResolution(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	c := client{t, env.HTTP.URL}
	c.sophon("createidentity", map[string]any{"identity_id": "holder", "register_image": b64(photo(t, 1))})
	post := func(action string, body map[string]any) (int, map[string]any, string) {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+"/sophon/v2/face/"+action, strings.NewReader(string(raw)))
		require.NoError(t, err)
		requestID := "photo-" + events.NewID()
		req.Header.Set("X-Request-Id", requestID)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), "%s", out)
		return resp.StatusCode, m, requestID
	}
	for i, tc := range []struct {
		name     string
		image    []byte
		accepted bool
	}{
		{"a 30000x30000 PNG header (decompression bomb)", testenv.PNGDeclaring(t, 30000, 30000), false},
		{"PNG 4097 px wide", testenv.PNGDeclaring(t, 4097, 8), false},
		{"PNG 4097 px high", testenv.PNG(t, 8, 4097, 1), false},
		{"JPEG 4097 px wide", testenv.JPEG(t, 4097, 8, 1), false},
		{"PNG 4096 px wide", testenv.PNG(t, 4096, 8, 2), true},
		{"JPEG 4096 px high", testenv.JPEG(t, 8, 4096, 2), true},
		{"PNG 2001x10 (over Tencent's PNG limit, not ours)", testenv.PNG(t, 2001, 10, 3), true},
		{"PNG 1x1", testenv.PNG(t, 1, 1, 4), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("id-%d", i)
			before := env.LastSeq(t)
			status, out, requestID := post("createidentity", map[string]any{"identity_id": id, "register_image": "data:image/png;base64," + b64(tc.image)})
			if tc.accepted {
				require.Equal(t, http.StatusOK, status, out)
				require.Len(t, photoFiles(t, env, id), 1)
			} else {
				require.Equal(t, http.StatusBadRequest, status, out)
				requireCode(t, out, "IMAGE_SIZE_TOO_LARGE_ERROR")
				require.Contains(t, out["error"].(map[string]any)["message"], "4096")
				env.RequireNothingRecorded(t, before, requestID)
				c.sophonErr("getidentity", map[string]string{"identity_id": id}, "ID_NOT_FOUND")
				require.Empty(t, photoFiles(t, env, id))
			}

			before = env.LastSeq(t)
			status, out, requestID = post("addface", map[string]any{"identity_id": "holder", "register_image": b64(tc.image)})
			if tc.accepted {
				require.Equal(t, http.StatusOK, status, out)
				faceIDs := strs(out["face_ids"])
				c.sophon("deleteface", map[string]any{"identity_id": "holder", "face_id": faceIDs[len(faceIDs)-1]})
				return
			}
			require.Equal(t, http.StatusBadRequest, status, out)
			requireCode(t, out, "IMAGE_SIZE_TOO_LARGE_ERROR")
			env.RequireNothingRecorded(t, before, requestID)
			require.Len(t, photoFiles(t, env, "holder"), 1)
		})
	}
}
