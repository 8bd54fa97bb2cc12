package sophon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPanicIsASophonInternalError(t *testing.T) {
	// given a Sophon handler that panics
	api := &API{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := api.recovered(func(http.ResponseWriter, *http.Request) { panic("boom") })
	// when it serves a request
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, Prefix+"getidentity", nil))
	// then the client gets Sophon's error format with a 500
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var body errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "INTERNAL_ERROR", body.Error.Code)
	require.NotContains(t, rec.Body.String(), "boom", "no internals in the answer")
}

func TestEveryTableRowIsAClientOrServerCondition(t *testing.T) {
	// Bad input is never a 500: every mapped error is a 4xx, or a 503 the client may retry. Besides
	// 400 and 404, the 4xx are the guard's: 401 (no token), 403 (a Host not allowed, a cross-site
	// request), 408 (a body too slow), 429 (a limit), 414 and 431 (sizes).
	for _, row := range errorTable {
		switch row.status {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusServiceUnavailable, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout,
			http.StatusTooManyRequests, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		default:
			t.Errorf("%v: %d", row.err, row.status)
		}
	}
}
