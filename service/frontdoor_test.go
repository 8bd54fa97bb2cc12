package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// pngBase64 is a small decodable photo.
func pngBase64(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8))))
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// With API keys set, the Sophon surface answers no one without a credential, on loopback too (a
// reverse proxy makes loopback public): an API key or the Sophon token, each recorded as the
// actor of what it does.
func TestSophonRequiresACredentialWhenKeysAreSet(t *testing.T) {
	t.Run("with a Sophon token", func(t *testing.T) { sophonCredentials(t, sophonKey) })
	t.Run("without a Sophon token", func(t *testing.T) { sophonCredentials(t, "") })
}

func sophonCredentials(t *testing.T, token string) {
	t.Parallel()
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	cfg.SophonToken = token
	env := testenv.Start(t, cfg)
	accepted := []string{opsKey}
	if token != "" {
		accepted = append(accepted, token)
	}
	base, c := env.HTTP.URL+"/sophon/v2/face/", http.DefaultClient

	create := func(key, id string) string {
		t.Helper()
		a := send(t, c, "POST", base+"createidentity", key, "application/json",
			`{"identity_id":"`+id+`","identity_name":"Li","register_image":"`+pngBase64(t)+`"}`)
		require.Equal(t, http.StatusOK, a.status, a.body)
		var out struct {
			ImageID string `json:"register_image_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(a.body), &out))
		return out.ImageID
	}
	actor := func(id string) string {
		t.Helper()
		history, _, err := env.Svc.Log.Load(context.Background(), events.AggregatePerson, id)
		require.NoError(t, err)
		require.NotEmpty(t, history)
		return history[0].Actor
	}
	image := create(opsKey, "by-key")
	require.Equal(t, "ops", actor("by-key"), "an API key's name is the actor")
	if token != "" {
		create(token, "by-token")
		require.Equal(t, "sophon-api", actor("by-token"), "the Sophon token's actor is the surface's")
	}

	for _, tt := range []struct {
		name, method, path, body string
	}{
		{"getidentities", "POST", "getidentities", `{}`},
		{"getregisterimage", "POST", "getregisterimage", `{"register_image_id":"` + image + `"}`},
		{"getregisterimage file", "GET", "getregisterimage/" + image, ""},
		{"createidentity", "POST", "createidentity", `{"identity_id":"anon","register_image":"` + pngBase64(t) + `"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, key := range []string{"", "not-a-key-0123456789"} {
				a := send(t, c, tt.method, base+tt.path, key, "application/json", tt.body)
				require.Equal(t, http.StatusUnauthorized, a.status, a.body)
				require.Equal(t, "UNAUTHORIZED", a.code(t))
				require.NotContains(t, a.body, "Li")
			}
			if tt.name == "createidentity" {
				return
			}
			for _, key := range accepted {
				a := send(t, c, tt.method, base+tt.path, key, "application/json", tt.body)
				require.Equal(t, http.StatusOK, a.status, a.body)
			}
		})
	}
	history, _, err := env.Svc.Log.Load(context.Background(), events.AggregatePerson, "anon")
	require.NoError(t, err)
	require.Empty(t, history, "a refused createidentity recorded nothing")
}

// /metrics and /openapi.json are open by default, and take an API key once the operator closes
// them; /healthz and /readyz stay open whatever is configured.
func TestOpenEndpoints(t *testing.T) {
	for _, tt := range []struct {
		open          string
		metrics, spec bool
	}{
		{"", true, true},
		{"metrics,openapi", true, true},
		{"metrics", true, false},
		{"none", false, false},
	} {
		t.Run("open="+tt.open, func(t *testing.T) {
			t.Parallel()
			cfg := testenv.Config(t, "sqlite")
			cfg.APIKeys = "ops:" + opsKey
			cfg.OpenEndpoints = tt.open
			env := testenv.Start(t, cfg)
			base, c := env.HTTP.URL, http.DefaultClient
			for path, open := range map[string]bool{"/metrics": tt.metrics, "/openapi.json": tt.spec, "/healthz": true, "/readyz": true} {
				a := send(t, c, "GET", base+path, "", "", "")
				if open {
					require.Equal(t, http.StatusOK, a.status, path)
					continue
				}
				require.Equal(t, http.StatusUnauthorized, a.status, path)
				require.Equal(t, "UNAUTHENTICATED", a.code(t), path)
				require.Equal(t, http.StatusOK, send(t, c, "GET", base+path, opsKey, "", "").status, path)
			}
		})
	}
}
