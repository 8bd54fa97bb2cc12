package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

const (
	opsKey    = "ops-0123456789abcdef"
	ciKey     = "ci-0123456789abcdef"
	sophonKey = "sophon-0123456789abcdef"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) code(t *testing.T) string {
	t.Helper()
	var e struct {
		Error    struct{ Code string } `json:"error"`
		Response struct {
			Error struct{ Code string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &e), a.body)
	if e.Error.Code != "" {
		return e.Error.Code
	}
	return e.Response.Error.Code
}

func send(t *testing.T, client *http.Client, method, url, key, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func TestAPIKeysGuardV1AndNameTheActor(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey + ", ci:" + ciKey
	env := testenv.Start(t, cfg)
	base, c := env.HTTP.URL, http.DefaultClient

	for _, key := range []string{"", "not-a-key-0123456789", opsKey + "x"} {
		a := send(t, c, "GET", base+"/v1/groups", key, "", "")
		require.Equal(t, http.StatusUnauthorized, a.status, key)
		require.Equal(t, "UNAUTHENTICATED", a.code(t))
		require.Equal(t, `Bearer realm="erasure"`, a.header.Get("WWW-Authenticate"))
	}
	// Refused before any work: nothing was recorded.
	a := send(t, c, "POST", base+"/v1/groups", "", "application/json", `{"group_id":"g1","name":"G"}`)
	require.Equal(t, http.StatusUnauthorized, a.status)
	last, err := env.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)
	require.Zero(t, last)

	a = send(t, c, "POST", base+"/v1/groups", ciKey, "application/json", `{"group_id":"g1","name":"G"}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	history, _, err := env.Svc.Log.Load(context.Background(), events.AggregateGroup, "g1")
	require.NoError(t, err)
	require.Equal(t, "ci", history[0].Actor, "the key's name is the audit actor")

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		require.Equal(t, http.StatusOK, send(t, c, "GET", base+path, "", "", "").status, path)
	}
}

func TestSophonToken(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.SophonToken = sophonKey
	env := testenv.Start(t, cfg)
	url := env.HTTP.URL + "/sophon/v2/face/getpermissions"

	a := send(t, http.DefaultClient, "POST", url, "", "application/json", `{}`)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "UNAUTHORIZED", a.code(t))
	a = send(t, http.DefaultClient, "POST", url, sophonKey, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	// Without API keys configured, /v1 stays open on loopback.
	require.Equal(t, http.StatusOK, send(t, http.DefaultClient, "GET", env.HTTP.URL+"/v1/groups", "", "", "").status)
}

// serve runs the service on ln until the test ends.
func serve(t *testing.T, env *testenv.Env, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Svc.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// exposedListener listens on loopback but says it listens on every interface: the server treats
// it as reachable from other machines, while the test's traffic stays on this one.
type exposedListener struct{ net.Listener }

func (l exposedListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4zero, Port: l.Listener.Addr().(*net.TCPAddr).Port}
}

func exposed(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return exposedListener{ln}, "http://" + ln.Addr().String()
}

func TestServeRefusesAnExposedAddressWithoutKeys(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	ln, _ := exposed(t)
	err := env.Svc.ServeListener(context.Background(), ln)
	require.ErrorContains(t, err, "ERASURE_API_KEYS")
}

func TestExposedAddress(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	env := testenv.Start(t, cfg)
	ln, base := exposed(t)
	serve(t, env, ln)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	// Served as exposed: the Sophon surface takes an API key (no token is configured), and
	// nothing without one.
	a := send(t, http.DefaultClient, "POST", base+"/sophon/v2/face/getpermissions", "", "application/json", `{}`)
	require.Equal(t, http.StatusUnauthorized, a.status)
	a = send(t, http.DefaultClient, "POST", base+"/sophon/v2/face/getpermissions", opsKey, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, http.StatusUnauthorized, send(t, http.DefaultClient, "GET", base+"/v1/groups", "", "", "").status)
	require.Equal(t, http.StatusOK, send(t, http.DefaultClient, "GET", base+"/v1/groups", opsKey, "", "").status)
}

func TestLimitsAnswerInEachSurfacesFormat(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey
	cfg.RateLimit, cfg.RateBurst = 0.1, 2
	cfg.MaxBulk = 1
	env := testenv.Start(t, cfg)
	base, c := env.HTTP.URL, http.DefaultClient

	long := "/?q=" + strings.Repeat("x", 17<<10)
	a := send(t, c, "GET", base+"/v1/groups"+long, opsKey, "", "")
	require.Equal(t, http.StatusRequestURITooLong, a.status)
	require.Equal(t, "URL_TOO_LONG", a.code(t))
	a = send(t, c, "POST", base+"/sophon/v2/face/getpermissions"+long, "", "application/json", "{}")
	require.Equal(t, http.StatusRequestURITooLong, a.status)
	require.Equal(t, "INVALID_ARGUMENTS", a.code(t))
	a = send(t, c, "POST", base+long, "", "application/json", "{}")
	require.Equal(t, http.StatusOK, a.status, "Tencent answers every error with 200")
	require.Equal(t, "RequestSizeLimitExceeded", a.code(t))

	req, err := http.NewRequest("GET", base+"/v1/groups", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opsKey)
	req.Header.Set("X-Padding", strings.Repeat("p", 40<<10))
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	// A bulk request streams while another asks: the second is refused at once.
	pr, pw := io.Pipe()
	first := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/v1/deletions", pr)
		req.Header.Set("Authorization", "Bearer "+opsKey)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := c.Do(req)
		if err != nil {
			first <- answer{}
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		first <- answer{status: resp.StatusCode, body: string(raw)}
	}()
	defer pw.Close() // a failed assertion below must not leave the stream open (Close would wait)
	_, err = pw.Write([]byte("p-1\np-2\n"))
	require.NoError(t, err)
	// The write above returns once the request is on its way; the first request holds the slot
	// once the server serves it (the scrape itself is the other request in flight).
	require.Eventually(t, func() bool {
		return strings.Contains(send(t, c, "GET", base+"/metrics", "", "", "").body, "\nerasure_http_requests_in_flight 2\n")
	}, 10*time.Second, 5*time.Millisecond)
	time.Sleep(20 * time.Millisecond) // from the middleware's count to the handler's slot: no I/O between
	a = send(t, c, "POST", base+"/v1/deletions", opsKey, "application/x-ndjson", "\"p-3\"\n")
	require.Equal(t, http.StatusTooManyRequests, a.status, a.body)
	require.Equal(t, "TOO_MANY_BULK_REQUESTS", a.code(t))
	require.NotEmpty(t, a.header.Get("Retry-After"))
	require.NoError(t, pw.Close())
	require.Equal(t, http.StatusAccepted, (<-first).status)

	// The key's bucket (burst 2) is spent by now: over it, 429 with Retry-After.
	a = send(t, c, "GET", base+"/v1/groups", opsKey, "", "")
	require.Equal(t, http.StatusTooManyRequests, a.status, a.body)
	require.Equal(t, "RATE_LIMITED", a.code(t))
	require.Equal(t, "10", a.header.Get("Retry-After"))

	m := send(t, c, "GET", base+"/metrics", "", "", "").body
	require.Contains(t, m, `erasure_http_refused_total{reason="rate_limited",surface="native"} 1`)
	require.Contains(t, m, `erasure_http_refused_total{reason="url_too_long",surface="tencent"} 1`)
}

func TestMetrics(t *testing.T) {
	env := testenv.Start(t, testenv.Config(t, "sqlite"))
	base, c := env.HTTP.URL, http.DefaultClient
	a := send(t, c, "POST", base+"/v1/persons", "", "application/json", `{"person_id":"p1","name":"P"}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	a = send(t, c, "POST", base+"/v1/deletions", "", "application/json", `{"person_ids":["p1","nobody"]}`)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	var d struct {
		DeletionID string `json:"deletion_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &d))
	require.Eventually(t, func() bool {
		return strings.Contains(send(t, c, "GET", base+"/v1/deletions/"+d.DeletionID, "", "", "").body, `"state":"completed"`)
	}, 20*time.Second, 20*time.Millisecond)
	send(t, c, "GET", base+"/v1/persons/p1", "", "", "")

	var m string
	require.Eventually(t, func() bool {
		m = send(t, c, "GET", base+"/metrics", "", "", "").body
		return strings.Contains(m, `erasure_projection_lag_events 0`)
	}, 10*time.Second, 20*time.Millisecond)
	for _, want := range []string{
		`erasure_http_request_duration_seconds_count{route="POST /v1/persons",status="201"} 1`,
		`erasure_http_request_duration_seconds_count{route="GET /v1/persons/{id}",status="404"} 1`,
		`erasure_events_total{type="PersonCreated"} 1`,
		`erasure_events_total{type="PersonDeleted"} 1`,
		`erasure_person_deletion_seconds_count{outcome="deleted"} 1`,
		`erasure_saga_step_duration_seconds_count{step="purge_faces"}`,
		`erasure_saga_step_duration_seconds_count{step="delete_person"}`,
		`erasure_projection_lag_seconds 0`,
		`go_goroutines`,
	} {
		require.Contains(t, m, want)
	}
	require.NotContains(t, m, "saga_step_errors_total{", "no step failed")
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a pool
// trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "erasure test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	var pool *x509.CertPool
	cfg.TLSCert, cfg.TLSKey, pool = selfSigned(t)
	env := testenv.Start(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serve(t, env, ln)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	a := send(t, c, "GET", "https://"+ln.Addr().String()+"/healthz", "", "", "")
	require.Equal(t, http.StatusOK, a.status)
	// Plain HTTP to the TLS listener gets no answer of ours.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "net/http's answer to plain HTTP on a TLS port")
	} else {
		require.True(t, errors.Is(err, io.EOF) || strings.Contains(err.Error(), "malformed"), err)
	}
}

func TestReadOnlyKeyReadsButChangesNothing(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "ops:" + opsKey + ",auditor:" + ciKey + ":read"
	env := testenv.Start(t, cfg)
	base, c := env.HTTP.URL, http.DefaultClient

	a := send(t, c, "POST", base+"/v1/groups", opsKey, "application/json", `{"group_id":"g1","name":"G"}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	last, err := env.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)

	a = send(t, c, "GET", base+"/v1/groups/g1", ciKey, "", "")
	require.Equal(t, http.StatusOK, a.status, "a read-only key reads: %s", a.body)
	for _, w := range []struct{ method, path, body string }{
		{"POST", "/v1/groups", `{"group_id":"g2","name":"G"}`},
		{"POST", "/v1/deletions", `{"person_ids":["p-1"]}`},
		{"DELETE", "/v1/groups/g1", ""},
	} {
		a = send(t, c, w.method, base+w.path, ciKey, "application/json", w.body)
		require.Equal(t, http.StatusForbidden, a.status, w.path)
		require.Equal(t, "READ_ONLY_KEY", a.code(t), w.path)
	}
	now, err := env.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)
	require.Equal(t, last, now, "a read-only key's writes recorded nothing")

	// The Sophon surface reads through POST too: a read-only key is no credential there.
	a = send(t, c, "POST", base+"/sophon/v2/face/getpermissions", ciKey, "application/json", `{}`)
	require.Equal(t, http.StatusUnauthorized, a.status, a.body)
}

// With only read-only keys set, the Sophon surface (which reads and writes through POST alike)
// takes no request at all: it must not fall open to anonymous callers.
func TestOnlyReadOnlyKeysCloseTheSophonSurface(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.APIKeys = "auditor:" + ciKey + ":read"
	env := testenv.Start(t, cfg)
	base, c := env.HTTP.URL, http.DefaultClient
	last, err := env.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)
	for _, key := range []string{"", ciKey} {
		a := send(t, c, "POST", base+"/sophon/v2/face/deleteidentities", key, "application/json", `{"identity_ids":["p-1"]}`)
		require.Equal(t, http.StatusUnauthorized, a.status, "key %q: %s", key, a.body)
		a = send(t, c, "POST", base+"/sophon/v2/face/getpermissions", key, "application/json", `{}`)
		require.Equal(t, http.StatusUnauthorized, a.status, "key %q: %s", key, a.body)
	}
	now, err := env.Svc.Log.LastSequence(context.Background())
	require.NoError(t, err)
	require.Equal(t, last, now, "nothing was recorded")
}
