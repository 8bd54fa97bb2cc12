package sophon

import (
	"context"
	"errors"
	"net/http"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// Errors the handlers raise themselves, before the application layer is asked.
var (
	errContentType  = errors.New("content type must be application/json")
	errInvalidJSON  = errors.New("request body is not valid JSON")
	errMissing      = errors.New("a required argument is missing")
	errInvalid      = errors.New("invalid argument")
	errRepeat       = errors.New("the same id is given twice")
	errNotReplaced  = errors.New("the identity to replace could not be deleted in time")
	errNoSuchAction = errors.New("no such endpoint")
)

// errorCode is one row of the Sophon surface's error table.
type errorCode struct {
	err    error
	status int
	code   string
}

func (c errorCode) Sentinel() error { return c.err }

// errorTable maps every error the Sophon surface can answer to its HTTP status and Sophon code.
// The first match (errors.Is) wins; anything else is a 500 INTERNAL_ERROR.
//
// Statuses: Sophon documents codes, not statuses, and its clients branch on error.code; every
// client error is 400 (with the code saying which), 404 only for an unknown endpoint. The three
// conditions Sophon has no code for are the server's, not the request's: SERVICE_BUSY and
// TIMEOUT (503 with Retry-After: the request may be repeated) and INTERNAL_ERROR (500).
var errorTable = []errorCode{
	{errContentType, http.StatusBadRequest, "UNSUPPORT_CONTENT_TYPE"},
	{errInvalidJSON, http.StatusBadRequest, "INVALID_REQUEST_JSON"},
	{errMissing, http.StatusBadRequest, "MISSING_ARGUMENTS"},
	{errRepeat, http.StatusBadRequest, "ID_REPEAT_ERROR"},
	{errInvalid, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{errNoSuchAction, http.StatusNotFound, "API_NOT_FOUND"},
	{httpx.ErrBodyTooLarge, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	// The client stopped sending its body: Sophon's TIMEOUT (the request may be repeated), with
	// 408 saying whose side was slow.
	{httpx.ErrSlowBody, http.StatusRequestTimeout, "TIMEOUT"},
	{app.ErrNoIDs, http.StatusBadRequest, "MISSING_ARGUMENTS"},
	{app.ErrInvalidArgument, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{app.ErrImageEmpty, http.StatusBadRequest, "IMAGE_DECODE_ERROR"},
	{app.ErrImageUndecodable, http.StatusBadRequest, "IMAGE_DECODE_ERROR"},
	{app.ErrImageTooLarge, http.StatusBadRequest, "IMAGE_SIZE_TOO_LARGE_ERROR"},
	{app.ErrImageResolutionExceeded, http.StatusBadRequest, "IMAGE_SIZE_TOO_LARGE_ERROR"},
	{domain.ErrDuplicateID, http.StatusBadRequest, "ID_REPEAT_ERROR"},
	{domain.ErrIDEmpty, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrIDTooLong, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrIDIllegal, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrNameEmpty, http.StatusBadRequest, "MISSING_ARGUMENTS"},
	{domain.ErrNameTooLong, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrNameIllegal, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrDescriptionTooLong, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrTooManyFaces, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrPersonExists, http.StatusBadRequest, "ID_REPEAT_ERROR"},
	{domain.ErrPermissionGroupExists, http.StatusBadRequest, "ID_REPEAT_ERROR"},
	{domain.ErrPermissionNameTaken, http.StatusBadRequest, "NAME_REPEAT_ERROR"},
	// Being deleted: the request names something on its way out. Neither "not found" (it is
	// still there) nor "repeat" (for a create) fits every endpoint; the message says which.
	{domain.ErrPersonDeleting, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrPermissionGroupDeleting, http.StatusBadRequest, "INVALID_ARGUMENTS"},
	{domain.ErrPersonNotFound, http.StatusBadRequest, "ID_NOT_FOUND"},
	{domain.ErrPermissionNotFound, http.StatusBadRequest, "ID_NOT_FOUND"},
	{domain.ErrFaceNotFound, http.StatusBadRequest, "ID_NOT_FOUND"},
	{app.ErrNotFound, http.StatusBadRequest, "ID_NOT_FOUND"},
	{app.ErrBusy, http.StatusServiceUnavailable, "SERVICE_BUSY"},
	{app.ErrUnavailable, http.StatusServiceUnavailable, "SERVICE_BUSY"},
	{errNotReplaced, http.StatusServiceUnavailable, "SERVICE_BUSY"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "TIMEOUT"},
	// Refused by the guard (httpx.Guard) before any work. Sophon has codes for none of these:
	// UNAUTHORIZED, HOST_NOT_ALLOWED and CROSS_SITE_REQUEST are new (the latter two as the native
	// API names them); a limit reached is SERVICE_BUSY (retry later, as for a 503) with the status
	// saying which.
	{httpx.ErrUnauthenticated, http.StatusUnauthorized, "UNAUTHORIZED"},
	{httpx.ErrHostNotAllowed, http.StatusForbidden, "HOST_NOT_ALLOWED"},
	{httpx.ErrCrossSite, http.StatusForbidden, "CROSS_SITE_REQUEST"},
	{httpx.ErrRateLimited, http.StatusTooManyRequests, "SERVICE_BUSY"},
	{httpx.ErrTooManyLargeBodies, http.StatusTooManyRequests, "SERVICE_BUSY"},
	{httpx.ErrURLTooLong, http.StatusRequestURITooLong, "INVALID_ARGUMENTS"},
	{httpx.ErrHeadersTooLarge, http.StatusRequestHeaderFieldsTooLarge, "INVALID_ARGUMENTS"},
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	err = app.Unavailable(err)
	status, code, msg := http.StatusInternalServerError, "INTERNAL_ERROR", "internal error"
	if row, ok := httpx.LookupError(errorTable, err); ok {
		status, code, msg = row.status, row.code, err.Error()
	}
	writeCode(w, status, code, msg)
}

// Refuse answers a request the guard refused (httpx.Guard) in Sophon's format.
func Refuse(w http.ResponseWriter, _ *http.Request, err error) { writeError(w, err) }

func writeCode(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	httpx.WriteJSON(w, status, b)
}
