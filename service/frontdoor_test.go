package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

// sendWith sends a request with headers ("Host" sets the Host header) and returns the answer.
func sendWith(t *testing.T, method, url string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// A web page whose name was rebound to 127.0.0.1 sends its own name as Host: the server answers
// only to the names it has (loopback ones, ERASURE_ALLOWED_HOSTS), except on its probes.
func TestHostHeader(t *testing.T) {
	for _, tt := range []struct {
		name, keys, allowed string
		hosts               map[string]bool // Host: allowed
	}{
		{name: "loopback without keys",
			hosts: map[string]bool{"rebind.evil.example": false, "localhost": true, "127.0.0.1": true}},
		{name: "a name listed without keys", allowed: "rebind.evil.example",
			hosts: map[string]bool{"rebind.evil.example": true, "other.evil.example": false, "localhost": true}},
		{name: "keys and no list", keys: "ops:" + opsKey,
			hosts: map[string]bool{"rebind.evil.example": true, "erasure.example.com": true}},
		{name: "keys and a list", keys: "ops:" + opsKey, allowed: "erasure.example.com",
			hosts: map[string]bool{"rebind.evil.example": false, "erasure.example.com": true, "localhost": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testenv.Config(t, "sqlite")
			cfg.APIKeys, cfg.AllowedHosts = tt.keys, tt.allowed
			env := testenv.Start(t, cfg)
			_, port, _ := strings.Cut(strings.TrimPrefix(env.HTTP.URL, "http://"), ":")
			auth := map[string]string{}
			if tt.keys != "" {
				auth["Authorization"] = "Bearer " + opsKey
			}
			for name, allowed := range tt.hosts {
				for _, host := range []string{name, name + ":" + port} {
					h := map[string]string{"Host": host, "Content-Type": "application/json"}
					for k, v := range auth {
						h[k] = v
					}
					native := sendWith(t, "GET", env.HTTP.URL+"/v1/persons", h, "")
					sophon := sendWith(t, "POST", env.HTTP.URL+"/sophon/v2/face/getidentities", h, "{}")
					metrics := sendWith(t, "GET", env.HTTP.URL+"/metrics", h, "")
					if allowed {
						require.Equal(t, http.StatusOK, native.status, "%s: %s", host, native.body)
						require.Equal(t, http.StatusOK, metrics.status, host)
						continue
					}
					for _, a := range []answer{native, sophon, metrics} {
						require.Equal(t, http.StatusForbidden, a.status, "%s: %s", host, a.body)
						require.Equal(t, "HOST_NOT_ALLOWED", a.code(t), host)
						require.Contains(t, a.body, "ERASURE_ALLOWED_HOSTS")
					}
				}
			}
			// Probes come by address, under any name.
			for _, path := range []string{"/healthz", "/readyz"} {
				require.Equal(t, http.StatusOK, sendWith(t, "GET", env.HTTP.URL+path, map[string]string{"Host": "10.1.2.3:8080"}, "").status, path)
			}
		})
	}
}

// A browser sends a form, or a fetch with a text/plain body, to any address without asking
// first: the server refuses a state-changing request that the browser marks as cross-site, so a
// page the operator visits cannot delete persons through a loopback server.
func TestCrossSiteRequestsRefused(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	base := env.HTTP.URL
	for _, id := range []string{"p1", "p2"} {
		a := send(t, http.DefaultClient, "POST", base+"/v1/persons", "", "application/json", `{"person_id":"`+id+`","name":"P"}`)
		require.Equal(t, http.StatusCreated, a.status, a.body)
	}
	seq := env.LastSeq(t)
	bodies := map[string]string{"text/plain": "p1\n", "application/x-www-form-urlencoded": `{"person_ids":["p1"]}`}
	for _, browser := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://sub.127.0.0.1"},
	} {
		for contentType, body := range bodies {
			h := map[string]string{"Content-Type": contentType, "X-Request-Id": "cross-site-" + events.NewID()}
			for k, v := range browser {
				h[k] = v
			}
			a := sendWith(t, "POST", base+"/v1/deletions", h, body)
			require.Equal(t, http.StatusForbidden, a.status, "%v %s: %s", browser, contentType, a.body)
			require.Equal(t, "CROSS_SITE_REQUEST", a.code(t))
			env.RequireNothingRecorded(t, seq, h["X-Request-Id"])
		}
	}
	require.Equal(t, http.StatusOK, send(t, http.DefaultClient, "GET", base+"/v1/persons/p1", "", "", "").status, "p1 was not deleted")

	// The server's own pages (same origin) and clients that are not browsers still work.
	a := sendWith(t, "POST", base+"/v1/deletions", map[string]string{"Content-Type": "text/plain", "Origin": base, "Sec-Fetch-Site": "same-origin"}, "p1\n")
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	a = sendWith(t, "POST", base+"/v1/deletions", map[string]string{"Content-Type": "text/plain"}, "p2\n")
	require.Equal(t, http.StatusAccepted, a.status, a.body)
}

// stalled starts a request whose body sends first and then nothing until the test ends, and
// returns its answer once the server gives one.
func stalled(t *testing.T, method, url string, header map[string]string, first string) <-chan answer {
	t.Helper()
	pr, pw := io.Pipe()
	got := make(chan answer, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		req, _ := http.NewRequest(method, url, pr) // a pipe: unknown length, sent chunked
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		got <- answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
	}()
	go func() { _, _ = pw.Write([]byte(first)) }()
	t.Cleanup(func() {
		_ = pw.CloseWithError(io.ErrUnexpectedEOF)
		<-finished
	})
	return got
}

// inFlight waits until n requests are in flight, the scrape included.
func inFlight(t *testing.T, base string, n int) {
	t.Helper()
	want := "\nerasure_http_requests_in_flight " + strconv.Itoa(n) + "\n"
	require.Eventually(t, func() bool {
		return strings.Contains(send(t, http.DefaultClient, "GET", base+"/metrics", "", "", "").body, want)
	}, 10*time.Second, 5*time.Millisecond, "waiting for %d requests in flight", n)
}

// unsized hides a body's length, so that it is sent chunked and counts as a large body.
type unsized struct{ io.Reader }

// Anonymous clients (the Tencent surface needs no key to reach) that trickle large bodies hold
// only the anonymous clients' share of the large-body slots: an upload with an API key is served
// at once.
func TestAnonymousLargeBodiesLeaveAuthenticatedSlots(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	cfg.TencentSecretID, cfg.TencentSecretKey = "AKIDerasuretest", "erasure-test-secret-key"
	env := testenv.Start(t, cfg)
	base := env.HTTP.URL
	// Everything the Tencent surface can check before the body passes: the SecretId (no secret:
	// it travels in every request), the time and the scope. Only the signature, over the body,
	// is wrong, and it can only be checked once the body is in.
	now := time.Now()
	tencent := map[string]string{"Content-Type": "application/json", "X-TC-Action": "GetGroupList", "X-TC-Version": "2018-03-01",
		"X-TC-Timestamp": strconv.FormatInt(now.Unix(), 10),
		"Authorization": "TC3-HMAC-SHA256 Credential=AKIDerasuretest/" + now.UTC().Format("2006-01-02") + "/iai/tc3_request, " +
			"SignedHeaders=content-type;host, Signature=" + strings.Repeat("0", 64)}
	for range 32 {
		stalled(t, "POST", base+"/", tencent, "{")
	}
	inFlight(t, base, 33)

	start := time.Now()
	req, err := http.NewRequest("POST", base+"/v1/persons", unsized{strings.NewReader(`{"person_id":"p1","name":"P","photos":[{"image_base64":"` + pngBase64(t) + `"}]}`)})
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opsKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(raw))
	require.Less(t, time.Since(start), 5*time.Second, "the upload did not wait for a slot")
}

// A body that stops coming is cut off after ERASURE_BODY_TIMEOUT with the surface's error, and
// nothing is recorded.
func TestSlowBodyIsCutOff(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.BodyTimeout = 300 * time.Millisecond
	cfg.TencentSecretID, cfg.TencentSecretKey = "AKIDerasuretest", "erasure-test-secret-key"
	env := testenv.Start(t, cfg)
	now := time.Now()
	tencent := map[string]string{"Content-Type": "application/json", "X-TC-Action": "CreatePerson", "X-TC-Version": "2018-03-01",
		"X-TC-Timestamp": strconv.FormatInt(now.Unix(), 10),
		"Authorization": "TC3-HMAC-SHA256 Credential=AKIDerasuretest/" + now.UTC().Format("2006-01-02") + "/iai/tc3_request, " +
			"SignedHeaders=content-type;host, Signature=" + strings.Repeat("0", 64)}
	for _, tt := range []struct {
		name, path, first string
		header            map[string]string
		status            int
		code              string
	}{
		{"native", "/v1/persons", `{"person_id":"p1",`, nil, http.StatusRequestTimeout, "BODY_TOO_SLOW"},
		{"sophon", "/sophon/v2/face/createidentity", `{"identity_id":"p1",`, nil, http.StatusRequestTimeout, "TIMEOUT"},
		// Tencent answers every error with HTTP 200, as the real service does.
		{"tencent", "/", `{"PersonId":"p1",`, tencent, http.StatusOK, "FailedOperation.RequestTimeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header
			if header == nil {
				header = map[string]string{"Content-Type": "application/json"}
			}
			select {
			case a := <-stalled(t, "POST", env.HTTP.URL+tt.path, header, tt.first):
				require.Equal(t, tt.status, a.status, a.body)
				code := ""
				if tt.name == "tencent" {
					var v struct {
						Response struct{ Error struct{ Code string } }
					}
					require.NoError(t, json.Unmarshal([]byte(a.body), &v), a.body)
					code = v.Response.Error.Code
				} else {
					code = a.code(t)
				}
				require.Equal(t, tt.code, code)
			case <-time.After(10 * time.Second):
				require.Fail(t, "the stalled body was not cut off")
			}
		})
	}
	history, _, err := env.Svc.Log.Load(context.Background(), events.AggregatePerson, "p1")
	require.NoError(t, err)
	require.Empty(t, history)
	m := send(t, http.DefaultClient, "GET", env.HTTP.URL+"/metrics", "", "", "").body
	require.True(t, strings.Contains(m, `erasure_http_refused_total{reason="slow_body",surface="native"} 1`), "the cut-off is counted")
}

// Bulk deletion streams that send a line and stall lose their bulk slot after
// ERASURE_BODY_TIMEOUT, so they cannot keep every other bulk request out.
func TestStalledBulkStreamsFreeTheirSlots(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.MaxBulk = 4
	// Long enough that the streams are seen in flight and holding every slot before they are cut
	// off, even on a loaded machine under -race (1 s was missed there).
	cfg.BodyTimeout = 5 * time.Second
	env := testenv.Start(t, cfg)
	base := env.HTTP.URL
	var streams []<-chan answer
	for range 4 {
		streams = append(streams, stalled(t, "POST", base+"/v1/deletions", map[string]string{"Content-Type": "text/plain"}, "p-1\n"))
	}
	inFlight(t, base, 5)
	bulk := func() answer {
		return send(t, http.DefaultClient, "POST", base+"/v1/deletions", "", "text/plain", "p-2\n")
	}
	// The stalled streams hold every slot...
	require.Eventually(t, func() bool { return bulk().status == http.StatusTooManyRequests }, 5*time.Second, 5*time.Millisecond)
	// ...until they are cut off.
	for _, s := range streams {
		select {
		case a := <-s:
			require.Equal(t, http.StatusRequestTimeout, a.status, a.body)
			require.Equal(t, "BODY_TOO_SLOW", a.code(t))
		case <-time.After(10 * time.Second):
			require.Fail(t, "a stalled stream kept its bulk slot")
		}
	}
	a := bulk()
	require.Equal(t, http.StatusAccepted, a.status, a.body)
}
