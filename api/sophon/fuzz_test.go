package sophon_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/api/sophon"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

var fuzzEndpoints = []string{"deleteidentities", "createpermission", "getpermissions", "getpermission", "deletepermission",
	"createidentity", "getidentity", "getidentities", "addface", "deleteface", "getregisterimage", "nosuchendpoint"}

var fuzzContentTypes = []string{"application/json", "application/json; charset=utf-8", "text/plain", ""}

// FuzzSophonBody posts any body to every Sophon endpoint against a real service: never a 5xx,
// an error in Sophon's format, and a refused request records nothing in the log.
func FuzzSophonBody(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte(`{"identity_ids":["i-1","i-2"]}`))
	f.Add(uint8(0), uint8(0), []byte(`{"identity_ids":["i-1","i-1"]}`))
	f.Add(uint8(0), uint8(2), []byte(`{"identity_ids":["i-1"]}`))
	f.Add(uint8(1), uint8(0), []byte(`{"permission_id":"door-1","permission_name":"Door 1"}`))
	f.Add(uint8(5), uint8(1), []byte(`{"identity_id":"i-1","name":"A","permission_ids":["door-1"],"register_feature":[0.1,0.2]}`))
	f.Add(uint8(5), uint8(0), []byte(`{"identity_id":"i-2","name":"B","register_image":"data:image/png;base64,iVBORw0KGgo="}`))
	f.Add(uint8(8), uint8(0), []byte(`{"identity_id":"i-1","register_image":"@@@"}`))
	f.Add(uint8(4), uint8(0), []byte(`{"permission_id":"door-1"}`))
	f.Add(uint8(7), uint8(0), []byte(`{"offset":-1,"limit":1e99}`))
	f.Add(uint8(10), uint8(3), []byte(`null`))
	cfg := testenv.Config(f, "sqlite")
	cfg.SophonWait = 5 * time.Second
	env := testenv.Start(f, cfg)
	f.Fuzz(func(t *testing.T, endpoint, contentType uint8, body []byte) {
		req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+sophon.Prefix+fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)], bytes.NewReader(body))
		require.NoError(t, err)
		requestID := "fuzz-" + events.NewID()
		req.Header.Set("X-Request-Id", requestID)
		if ct := fuzzContentTypes[int(contentType)%len(fuzzContentTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
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
	})
}
