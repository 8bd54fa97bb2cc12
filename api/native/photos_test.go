package native_test

import (
	"context"
	"encoding/base64"
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

// A photo's declared dimensions are checked from its header before any pixel is decoded: at most
// 4096 px a side, whatever the format (a 30000×30000 PNG header took ~900 MB to decode). There is
// no minimum (no face detector: a 1×1 image is one face). A refused photo records nothing.
func TestPhotoResolution(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	b64 := base64.StdEncoding.EncodeToString
	for i, tc := range []struct {
		name  string
		image []byte
		code  string // "" for accepted
	}{
		{"a 30000x30000 PNG header (decompression bomb)", testenv.PNGDeclaring(t, 30000, 30000), "IMAGE_RESOLUTION_TOO_LARGE"},
		{"PNG 4097 px wide", testenv.PNGDeclaring(t, 4097, 8), "IMAGE_RESOLUTION_TOO_LARGE"},
		{"PNG 4097 px high", testenv.PNG(t, 8, 4097, 1), "IMAGE_RESOLUTION_TOO_LARGE"},
		{"JPEG 4097 px wide", testenv.JPEG(t, 4097, 8, 1), "IMAGE_RESOLUTION_TOO_LARGE"},
		{"PNG 4096 px wide", testenv.PNG(t, 4096, 8, 2), ""},
		{"JPEG 4096 px high", testenv.JPEG(t, 8, 4096, 2), ""},
		{"PNG 2001x10 (over Tencent's PNG limit, not ours)", testenv.PNG(t, 2001, 10, 3), ""},
		{"PNG 1x1", testenv.PNG(t, 1, 1, 4), ""},
		{"JPEG 1x1", testenv.JPEG(t, 1, 1, 4), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("p-%d", i)
			body := fmt.Sprintf(`{"person_id":%q,"name":"n","photos":[{"image_base64":%q}]}`, id, b64(tc.image))
			req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+"/v1/persons", strings.NewReader(body))
			require.NoError(t, err)
			requestID := "photo-" + events.NewID()
			req.Header.Set("X-Request-Id", requestID)
			req.Header.Set("Content-Type", "application/json")
			before := env.LastSeq(t)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			if tc.code == "" {
				require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", raw)
				return
			}
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", raw)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal(raw, &e), "%s", raw)
			require.Equal(t, tc.code, e.Error.Code, "%s", raw)
			require.Contains(t, e.Error.Message, "4096")
			env.RequireNothingRecorded(t, before, requestID)
			status, _ := client{t, env.HTTP.URL}.get("/v1/persons/" + id)
			require.Equal(t, http.StatusNotFound, status)
			left, err := env.Svc.Stores.Leftovers(context.Background(), []string{id})
			require.NoError(t, err)
			require.Empty(t, left, "no photo (nor a pack being written) is stored for a refused person")
		})
	}
}
