package sophon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// TestAnswerWrites checks that the one adapter every Sophon route goes through writes an answer
// as 200 JSON (an image as itself) and an error in Sophon's format through the error table,
// logging only what the table does not know.
func TestAnswerWrites(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n....")
	tests := []struct {
		name        string
		ans         any
		err         error
		status      int
		contentType string
		retryAfter  string
		body        string
		logged      bool
	}{
		{name: "JSON", ans: map[string]string{"permission_id": "p1"}, status: http.StatusOK,
			contentType: "application/json; charset=utf-8", body: `{"permission_id":"p1"}` + "\n"},
		{name: "image as itself", ans: imageFile(png), status: http.StatusOK, contentType: "image/png", body: string(png)},
		{name: "mapped error", err: fmt.Errorf("identity x: %w", domain.ErrPersonNotFound), status: http.StatusBadRequest,
			contentType: "application/json; charset=utf-8",
			body:        `{"error":{"code":"ID_NOT_FOUND","message":"identity x: person not found"}}` + "\n"},
		{name: "busy", err: app.ErrBusy, status: http.StatusServiceUnavailable, contentType: "application/json; charset=utf-8",
			retryAfter: "1"},
		{name: "unknown error", err: errors.New("boom"), status: http.StatusInternalServerError,
			contentType: "application/json; charset=utf-8",
			body:        `{"error":{"code":"INTERNAL_ERROR","message":"internal error"}}` + "\n", logged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			api := &API{logger: slog.New(slog.NewTextHandler(&logs, nil))}
			rec := httptest.NewRecorder()
			api.answer(func(*http.Request) (any, error) { return tt.ans, tt.err })(rec, httptest.NewRequest(http.MethodPost, Prefix+"getpermission", nil))
			require.Equal(t, tt.status, rec.Code)
			require.Equal(t, tt.contentType, rec.Header().Get("Content-Type"))
			require.Equal(t, tt.retryAfter, rec.Header().Get("Retry-After"))
			if tt.body != "" {
				require.Equal(t, tt.body, rec.Body.String())
			}
			require.Equal(t, tt.logged, bytes.Contains(logs.Bytes(), []byte("Sophon request failed")), logs.String())
		})
	}
}
