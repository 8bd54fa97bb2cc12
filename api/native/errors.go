package native

import (
	"context"
	"errors"
	"net/http"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/receipts"
	"github.com/erasure-dev/erasure/webhooks"
)

// errorCode is one row of the native API's error table (also in docs/api.md).
type errorCode struct {
	err    error
	status int
	code   string
}

func (c errorCode) Sentinel() error { return c.err }

// errorTable maps every error the native API can answer to its status and code. The first
// match (errors.Is) wins; anything else is a 500 INTERNAL.
var errorTable = []errorCode{
	// First: a receipt's absence is answered as such, whatever else the error says.
	{receipts.ErrNoReceipt, http.StatusNotFound, "NO_RECEIPT"},
	{httpx.ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
	{httpx.ErrInvalidJSON, http.StatusBadRequest, "INVALID_JSON"},
	{httpx.ErrSlowBody, http.StatusRequestTimeout, "BODY_TOO_SLOW"},
	{httpx.ErrUnknownField, http.StatusBadRequest, "UNKNOWN_FIELD"},
	{httpx.ErrWrongType, http.StatusBadRequest, "INVALID_ARGUMENT"},
	{errUnsupportedMediaType, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	{errMissing, http.StatusBadRequest, "MISSING_ARGUMENT"},
	{app.ErrNoIDs, http.StatusBadRequest, "MISSING_ARGUMENT"},
	{errBadLine, http.StatusBadRequest, "INVALID_BODY"},
	{webhooks.ErrURLNotAllowed, http.StatusBadRequest, "URL_NOT_ALLOWED"},
	{webhooks.ErrInvalidURL, http.StatusBadRequest, "INVALID_URL"},
	{webhooks.ErrUnknownEventType, http.StatusBadRequest, "UNKNOWN_EVENT_TYPE"},
	{app.ErrInvalidArgument, http.StatusBadRequest, "INVALID_ARGUMENT"},
	{domain.ErrIDEmpty, http.StatusBadRequest, "MISSING_ARGUMENT"},
	{domain.ErrIDTooLong, http.StatusBadRequest, "ID_TOO_LONG"},
	{domain.ErrIDIllegal, http.StatusBadRequest, "INVALID_ID"},
	{domain.ErrDuplicateID, http.StatusBadRequest, "DUPLICATE_ID"},
	{domain.ErrNameEmpty, http.StatusBadRequest, "MISSING_ARGUMENT"},
	{domain.ErrNameTooLong, http.StatusBadRequest, "NAME_TOO_LONG"},
	{domain.ErrNameIllegal, http.StatusBadRequest, "INVALID_NAME"},
	{domain.ErrTagTooLong, http.StatusBadRequest, "TAG_TOO_LONG"},
	{app.ErrImageEmpty, http.StatusBadRequest, "IMAGE_EMPTY"},
	{app.ErrImageTooLarge, http.StatusRequestEntityTooLarge, "IMAGE_TOO_LARGE"},
	{app.ErrImageUndecodable, http.StatusBadRequest, "IMAGE_DECODE_ERROR"},
	{app.ErrImageResolutionExceeded, http.StatusBadRequest, "IMAGE_RESOLUTION_TOO_LARGE"},
	{domain.ErrTooManyFaces, http.StatusBadRequest, "TOO_MANY_FACES"},
	{domain.ErrTooManyGroups, http.StatusBadRequest, "TOO_MANY_GROUPS"},
	{domain.ErrPersonExists, http.StatusConflict, "PERSON_EXISTS"},
	{domain.ErrGroupExists, http.StatusConflict, "GROUP_EXISTS"},
	{domain.ErrPersonDeleting, http.StatusConflict, "PERSON_DELETING"},
	{domain.ErrGroupDeleting, http.StatusConflict, "GROUP_DELETING"},
	{domain.ErrPermissionGroupDeleting, http.StatusConflict, "PERMISSION_GROUP_DELETING"},
	{domain.ErrPermissionNameTaken, http.StatusConflict, "PERMISSION_NAME_TAKEN"},
	{domain.ErrPersonNotFound, http.StatusNotFound, "PERSON_NOT_FOUND"},
	{domain.ErrGroupNotFound, http.StatusNotFound, "GROUP_NOT_FOUND"},
	{domain.ErrFaceNotFound, http.StatusNotFound, "FACE_NOT_FOUND"},
	{app.ErrNotFound, http.StatusNotFound, "NOT_FOUND"},
	{webhooks.ErrNotFound, http.StatusNotFound, "NOT_FOUND"},
	{webhooks.ErrDisabled, http.StatusConflict, "WEBHOOK_DISABLED"},
	{domain.ErrDeletionNotFound, http.StatusNotFound, "NOT_FOUND"},
	{domain.ErrDeletionFinished, http.StatusConflict, "DELETION_FINISHED"},
	{app.ErrBusy, http.StatusServiceUnavailable, "BUSY"},
	{app.ErrUnavailable, http.StatusServiceUnavailable, "UNAVAILABLE"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "TIMEOUT"},
	// Refused by the guard (httpx.Guard) or a limit of this surface, before any work.
	{httpx.ErrUnauthenticated, http.StatusUnauthorized, "UNAUTHENTICATED"},
	{httpx.ErrHostNotAllowed, http.StatusForbidden, "HOST_NOT_ALLOWED"},
	{httpx.ErrCrossSite, http.StatusForbidden, "CROSS_SITE_REQUEST"},
	{httpx.ErrReadOnly, http.StatusForbidden, "READ_ONLY_KEY"},
	{httpx.ErrRateLimited, http.StatusTooManyRequests, "RATE_LIMITED"},
	{httpx.ErrTooManyLargeBodies, http.StatusTooManyRequests, "TOO_MANY_LARGE_REQUESTS"},
	{errTooManyBulk, http.StatusTooManyRequests, "TOO_MANY_BULK_REQUESTS"},
	{errTooManyStreams, http.StatusTooManyRequests, "TOO_MANY_STREAMS"},
	{httpx.ErrURLTooLong, http.StatusRequestURITooLong, "URL_TOO_LONG"},
	{httpx.ErrHeadersTooLarge, http.StatusRequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE"},
}

var (
	errUnsupportedMediaType = errors.New("content type must be application/json")
	errMissing              = errors.New("a required field is missing")
	errBadLine              = errors.New("unreadable line in the body")
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// reply is a handler's answer: its status and its body, written as JSON.
type reply struct {
	status int
	// body is written as JSON; a rawJSON body as it is; no body (nil) writes the status alone.
	body any
	// header holds what the answer sets besides Content-Type (the Location of what it created).
	header http.Header
}

// rawJSON is a body written byte for byte: a signed receipt is answered exactly as signed.
type rawJSON []byte

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

// answer serves h: it writes what h returns, its answer or its error through the error table.
// Every route is served so but the probes and the event stream (events.go), which writes to w
// as events come and sends its errors through writeError too.
func answer(h func(*http.Request) (reply, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, err := h(r)
		if err != nil {
			writeError(w, err)
			return
		}
		for k, v := range rep.header {
			w.Header()[k] = v
		}
		switch body := rep.body.(type) {
		case nil:
			w.WriteHeader(rep.status)
		case rawJSON:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rep.status)
			_, _ = w.Write(body)
		default:
			httpx.WriteJSON(w, rep.status, body)
		}
	}
}

func writeError(w http.ResponseWriter, err error) {
	err = app.Unavailable(err)
	if errors.Is(err, app.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
	}
	status, code := http.StatusInternalServerError, "INTERNAL"
	msg := "internal error"
	if row, ok := httpx.LookupError(errorTable, err); ok {
		status, code, msg = row.status, row.code, err.Error()
	}
	if status == http.StatusInternalServerError {
		httpx.NoteError(w, err)
	}
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	httpx.WriteJSON(w, status, b)
}

// Refuse answers a request the guard refused (httpx.Guard) in the native format.
func Refuse(w http.ResponseWriter, _ *http.Request, err error) { writeError(w, err) }

func writeCode(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	httpx.WriteJSON(w, status, b)
}
