package testenv_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// fatalRecorder is a testing.TB whose Fatalf records the failure and ends the goroutine, as
// the real one does, without failing the test that checks it.
type fatalRecorder struct {
	testing.TB
	failure string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// The client returns the status and the JSON object answered, sends the body and content type
// it is given, and fails the test on an answer that is not a JSON object, so that a test's
// assertions on fields never run on a page of HTML.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"method":%q,"type":%q,"body":%q}`, r.Method, r.Header.Get("Content-Type"), body)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "<html>not found</html>", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name       string
		call       func(c testenv.Client) (int, map[string]any)
		wantStatus int
		wantBody   map[string]any
		wantFail   string
	}{
		{
			name:       "post sends JSON",
			call:       func(c testenv.Client) (int, map[string]any) { return c.Post("/echo", `{"a":1}`) },
			wantStatus: http.StatusCreated,
			wantBody:   map[string]any{"method": "POST", "type": "application/json", "body": `{"a":1}`},
		},
		{
			name:       "get sends no content type",
			call:       func(c testenv.Client) (int, map[string]any) { return c.Get("/echo") },
			wantStatus: http.StatusCreated,
			wantBody:   map[string]any{"method": "GET", "type": "", "body": ""},
		},
		{
			name: "do sends the content type given",
			call: func(c testenv.Client) (int, map[string]any) {
				return c.Do(http.MethodPut, "/echo", "text/plain", "p-1\n")
			},
			wantStatus: http.StatusCreated,
			wantBody:   map[string]any{"method": "PUT", "type": "text/plain", "body": "p-1\n"},
		},
		{
			name:       "an empty answer is an empty object",
			call:       func(c testenv.Client) (int, map[string]any) { return c.Get("/empty") },
			wantStatus: http.StatusNoContent,
			wantBody:   map[string]any{},
		},
		{
			name:     "an answer that is not JSON fails the test",
			call:     func(c testenv.Client) (int, map[string]any) { return c.Get("/missing") },
			wantFail: "GET /missing: 404, the answer is not a JSON object",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			var status int
			var body map[string]any
			done := make(chan struct{})
			go func() {
				defer close(done)
				status, body = tc.call(testenv.Client{T: rec, Base: srv.URL})
			}()
			<-done
			if tc.wantFail != "" {
				require.Contains(t, rec.failure, tc.wantFail)
				return
			}
			require.Empty(t, rec.failure)
			require.Equal(t, tc.wantStatus, status)
			require.Equal(t, tc.wantBody, body)
		})
	}
}
