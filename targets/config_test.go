package targets_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/sagas"
	"github.com/erasure-dev/erasure/targets"
)

func TestParseRefusesWithAClearReason(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{"empty", ``, "not a valid targets file"},
		{"no targets", "targets: []", "no targets"},
		{"unknown field", "targets:\n  - name: a\n    kind: sophon\n    url: http://box:5555\n    colour: red", "field colour not found"},
		{"missing kind", "targets:\n  - name: a\n    url: http://box:5555", "kind is missing"},
		{"unknown kind", "targets:\n  - name: a\n    kind: ftp\n    url: http://box:5555", `unknown kind "ftp"`},
		{"bad name", "targets:\n  - name: 'a b'\n    kind: sophon\n    url: http://box:5555", "name must be"},
		{"relative url", "targets:\n  - name: a\n    kind: sophon\n    url: box:5555", "absolute http or https URL"},
		{"duplicate", "targets:\n  - {name: a, kind: sophon, url: 'http://x'}\n  - {name: a, kind: sophon, url: 'http://y'}", `name "a" is used twice`},
		{"tencent without secrets", "targets:\n  - {name: c, kind: tencent, url: 'https://iai.tencentcloudapi.com'}", "secret_id_env and secret_key_env"},
		{"http without person", "targets:\n  - {name: h, kind: http, url: 'https://hr.example/people'}", "{person_id}"},
		{"http bad method", "targets:\n  - {name: h, kind: http, method: GET, url: 'https://hr.example/p/{person_id}'}", `method "GET"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := targets.Parse([]byte(tt.yaml))
			require.ErrorContains(t, err, tt.err)
		})
	}
}

func TestBuildReadsSecretsFromTheEnvironment(t *testing.T) {
	specs, err := targets.Parse([]byte(`
targets:
  - {name: cloud, kind: tencent, url: 'https://iai.tencentcloudapi.com', secret_id_env: CID, secret_key_env: CKEY}
  - {name: hr, kind: http, url: 'https://hr.example/p/{person_id}', headers: {X-Api-Key: '${HR_KEY}'}}
`))
	require.NoError(t, err)
	env := map[string]string{"CID": "id"}
	_, err = targets.Build(specs, func(k string) string { return env[k] })
	require.ErrorContains(t, err, "environment variable CKEY is not set")
	env["CKEY"] = "key"
	_, err = targets.Build(specs, func(k string) string { return env[k] })
	require.ErrorContains(t, err, "header X-Api-Key names HR_KEY, which is not set")
	env["HR_KEY"] = "k"
	ts, err := targets.Build(specs, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "cloud", ts[0].Name())
	require.Equal(t, 50.0, specs[0].Rate, "Tencent's default budget")
}

// The generic HTTP target: one request a person, the id escaped; 2xx and 404/410 are done,
// 5xx and 429 are retried, any other 4xx is a permanent refusal.
func TestHTTPTarget(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("X-Api-Key"))
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/ok"), strings.HasSuffix(r.URL.Path, "/a b"):
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(r.URL.Path, "/gone"):
			w.WriteHeader(http.StatusNotFound)
		case strings.HasSuffix(r.URL.Path, "/busy"):
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.Error(w, "no such thing", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	specs, err := targets.Parse([]byte("targets:\n  - {name: hr, kind: http, url: '" + srv.URL + "/people/{person_id}', headers: {X-Api-Key: '${K}'}}"))
	require.NoError(t, err)
	ts, err := targets.Build(specs, func(string) string { return "secret" })
	require.NoError(t, err)
	errs := ts[0].DeletePersons(context.Background(), []string{"ok", "a b", "gone", "busy", "bad"})
	require.Len(t, errs, 2)
	require.Error(t, errs["busy"])
	require.False(t, errors.Is(errs["busy"], sagas.ErrPermanent), "a 503 is retried")
	require.ErrorIs(t, errs["bad"], sagas.ErrPermanent)
	require.Contains(t, errs["bad"].Error(), "400 no such thing")
	require.Contains(t, got, "DELETE /people/a%20b secret")
}

// A target that cannot be reached fails with its host named, never the URL's path or query,
// which may carry a token: the message is shown by /v1, the console and the log.
func TestUnreachableTargetNamesOnlyItsHost(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	for _, u := range []string{base + "/people/{person_id}?api_key=SECRET", base + "/SECRET/{person_id}"} {
		specs, err := targets.Parse([]byte("targets:\n  - {name: hr, kind: http, url: '" + u + "', timeout: 2s}"))
		require.NoError(t, err)
		ts, err := targets.Build(specs, func(string) string { return "" })
		require.NoError(t, err)
		errs := ts[0].DeletePersons(context.Background(), []string{"p-1"})
		require.Error(t, errs["p-1"])
		msg := errs["p-1"].Error()
		require.Contains(t, msg, strings.TrimPrefix(base, "http://"), "the host is named")
		require.NotContains(t, msg, "SECRET")
		require.NotContains(t, msg, "p-1")
	}
}
