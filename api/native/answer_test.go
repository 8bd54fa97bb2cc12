package native

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/receipts"
)

// TestAnswerWrites checks that the one adapter every route goes through writes a handler's
// answer as the routes wrote it themselves before: status, headers and body byte for byte, and
// an error in the native format through the error table.
func TestAnswerWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		reply       reply
		err         error
		status      int
		contentType string
		header      map[string]string
		body        string
	}{
		{name: "JSON", reply: ok(map[string]string{"a": "b"}), status: http.StatusOK,
			contentType: "application/json; charset=utf-8", body: `{"a":"b"}` + "\n"},
		{name: "created with a location",
			reply:  reply{status: http.StatusCreated, body: []int{1}, header: http.Header{"Location": {"/v1/webhooks/w1"}}},
			status: http.StatusCreated, contentType: "application/json; charset=utf-8",
			header: map[string]string{"Location": "/v1/webhooks/w1"}, body: "[1]\n"},
		{name: "no content", reply: reply{status: http.StatusNoContent}, status: http.StatusNoContent},
		{name: "raw JSON as signed", reply: ok(rawJSON(`{"signed" : 1}`)), status: http.StatusOK,
			contentType: "application/json", body: `{"signed" : 1}`},
		{name: "mapped error", err: fmt.Errorf("person p: %w", domain.ErrPersonNotFound), status: http.StatusNotFound,
			contentType: "application/json; charset=utf-8",
			body:        `{"error":{"code":"PERSON_NOT_FOUND","message":"person p: person not found"}}` + "\n"},
		{name: "busy asks to retry", err: app.ErrBusy, status: http.StatusServiceUnavailable,
			contentType: "application/json; charset=utf-8", header: map[string]string{"Retry-After": "1"}},
		{name: "unknown error is internal", err: errors.New("boom"), status: http.StatusInternalServerError,
			contentType: "application/json; charset=utf-8", body: `{"error":{"code":"INTERNAL","message":"internal error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			answer(func(*http.Request) (reply, error) { return tt.reply, tt.err })(rec, httptest.NewRequest("GET", "/v1/x", nil))
			require.Equal(t, tt.status, rec.Code)
			require.Equal(t, tt.contentType, rec.Header().Get("Content-Type"))
			for k, v := range tt.header {
				require.Equal(t, v, rec.Header().Get(k), k)
			}
			if tt.body != "" || tt.err == nil {
				require.Equal(t, tt.body, rec.Body.String())
			}
		})
	}
}

// TestNoReceiptCode checks that a missing receipt is NO_RECEIPT even when its error also says
// not found, as the receipt route answered before it went through the table.
func TestNoReceiptCode(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	writeError(rec, fmt.Errorf("person p: %w", errors.Join(receipts.ErrNoReceipt, domain.ErrPersonNotFound)))
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, rec.Body.String(), `"code":"NO_RECEIPT"`)
}
