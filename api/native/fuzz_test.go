package native_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// fuzzPost sends body to path on env and checks what must hold for any input: never a 5xx, an
// error in the native format, and a refused request records nothing in the log.
func fuzzPost(t *testing.T, env *testenv.Env, path, contentType string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	requestID := "fuzz-" + events.NewID()
	req.Header.Set("X-Request-Id", requestID)
	req.Header.Set("Content-Type", contentType)
	before := env.LastSeq(t)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Less(t, resp.StatusCode, http.StatusInternalServerError, "%s", raw)
	if resp.StatusCode >= http.StatusBadRequest {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &e), "%s", raw)
		require.NotEmpty(t, e.Error.Code, "%s", raw)
		env.RequireNothingRecorded(t, before, requestID)
	}
}

var fuzzJSONRoutes = []string{"/v1/groups", "/v1/persons", "/v1/deletions"}

// FuzzNativeJSON posts any JSON body to the native surface's JSON intakes.
func FuzzNativeJSON(f *testing.F) {
	f.Add(uint8(0), []byte(`{"group_id":"g-1","name":"Staff","tag":"t"}`))
	f.Add(uint8(1), []byte(`{"person_id":"p-1","name":"Li Lei","group_ids":["g-1"],"permission_group_ids":["door-1"]}`))
	f.Add(uint8(1), []byte(`{"person_id":"p-2","name":"x","photos":[{"image_base64":"iVBORw0KGgo="}]}`))
	f.Add(uint8(2), []byte(`{"person_ids":["p-1","p-1","bad id",""],"idempotency_key":"k"}`))
	f.Add(uint8(2), []byte(`{"person_ids":["p-9"],"group_id":"g-1","callback_url":"ftp://x"}`))
	f.Add(uint8(0), []byte(`{"group_id":1}`))
	f.Add(uint8(2), []byte(`[[[[[[[[`))
	env := testenv.Start(f, testenv.Config(f, "sqlite"))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		fuzzPost(t, env, fuzzJSONRoutes[int(route)%len(fuzzJSONRoutes)], "application/json", body)
	})
}

// FuzzNativeDeletionStream posts any body as a streamed deletion request, one ID a line.
func FuzzNativeDeletionStream(f *testing.F) {
	f.Add(false, []byte("p-1\r\n  p-2  \n\n\np-1\n"))
	f.Add(true, []byte("\"p-1\"\n{\"person_id\":\"p-2\"}\n{\"other\":1}\n\"unterminated\n"))
	f.Add(false, []byte("\n\n \t \n"))
	f.Add(true, []byte(""))
	f.Add(false, bytes.Repeat([]byte("x"), 5000))
	env := testenv.Start(f, testenv.Config(f, "sqlite"))
	f.Fuzz(func(t *testing.T, ndjson bool, body []byte) {
		ct := "text/plain"
		if ndjson {
			ct = "application/x-ndjson"
		}
		fuzzPost(t, env, "/v1/deletions", ct, body)
	})
}
