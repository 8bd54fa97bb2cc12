package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/metrics"
)

func TestMiddlewareLogsAndMeasuresByRoute(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	m := metrics.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/persons/{id}", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "GET /v1/persons/{id}", Route(r))
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("POST /v1/fail", func(w http.ResponseWriter, r *http.Request) {
		NoteError(w, errors.New("disk on fire"))
		w.WriteHeader(http.StatusInternalServerError)
	})
	h := Middleware(logger, func(http.ResponseWriter, *http.Request) {}, WithMetrics(m), WithRoutes(mux))(mux)

	req := httptest.NewRequest("GET", "/v1/persons/p-1", nil)
	req.Header.Set("X-Request-Id", "req-42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "req-42", rec.Header().Get("X-Request-Id"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/fail", nil))
	// A request id a client made up with control characters is replaced, not echoed or logged.
	req = httptest.NewRequest("GET", "/nowhere", nil)
	req.Header.Set("X-Request-Id", "evil\x1b[2J")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.NotContains(t, rec.Header().Get("X-Request-Id"), "evil")

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &v))
		lines = append(lines, v)
	}
	require.Len(t, lines, 3)
	require.Equal(t, "req-42", lines[0]["request_id"])
	require.Equal(t, "GET /v1/persons/{id}", lines[0]["route"])
	require.EqualValues(t, 404, lines[0]["status"])
	require.Equal(t, "ERROR", lines[1]["level"])
	require.Equal(t, "disk on fire", lines[1]["err"])

	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	require.Contains(t, string(body), `erasure_http_request_duration_seconds_count{route="GET /v1/persons/{id}",status="404"} 1`)
	require.Contains(t, string(body), `erasure_http_request_duration_seconds_count{route="POST /v1/fail",status="500"} 1`)
	require.Contains(t, string(body), `erasure_http_request_duration_seconds_count{route="unmatched",status="404"} 1`)
}

func TestMiddlewareClientGoneIsNotAServerError(t *testing.T) {
	var logs bytes.Buffer
	m := metrics.New()
	ctx, cancel := context.WithCancel(context.Background())
	h := Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), func(http.ResponseWriter, *http.Request) {}, WithMetrics(m))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel() // the client disconnects while the handler works
			NoteError(w, r.Context().Err())
			w.WriteHeader(http.StatusInternalServerError)
		}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	require.Contains(t, logs.String(), `"status":499`)
	require.NotContains(t, logs.String(), `"level":"ERROR"`)
}
