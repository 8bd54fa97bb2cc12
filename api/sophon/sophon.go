// Package sophon is the Sophon edge-box compatibility surface under /sophon/v2/face/: the face
// library API of the Sophon box (identities, faces, permission groups, deleteidentities), so
// that a Sophon client runs against erasure alone. Every endpoint takes POST with a JSON body
// (Content-Type application/json) and answers JSON; errors are {"error":{"code","message"}} with
// Sophon's codes, mapped in one table (errors.go). Like every front door, it parses, calls app,
// and maps; a write is answered once the read model shows it.
//
// HTTP statuses (Sophon documents none): 200 on success; 400 for every client error, the code
// telling which (INVALID_REQUEST_JSON, UNSUPPORT_CONTENT_TYPE, MISSING_ARGUMENTS,
// INVALID_ARGUMENTS, ID_REPEAT_ERROR, NAME_REPEAT_ERROR, ID_NOT_FOUND, IMAGE_DECODE_ERROR,
// IMAGE_SIZE_TOO_LARGE_ERROR); 404 API_NOT_FOUND for an unknown endpoint; 503 SERVICE_BUSY or
// TIMEOUT (with Retry-After) when the server could not finish in time; 500 INTERNAL_ERROR for a
// bug, panics included.
package sophon

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/erasure-dev/erasure/api/httpx"
	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/config"
)

// Prefix is where the Sophon routes live.
const Prefix = "/sophon/v2/face/"

// TokenActor is the actor of what a request records when it came with the Sophon token, or with
// no credential where none is required; a request with an API key records the key's name, so
// that the audit trail says which key did what on this surface as on /v1. config refuses it as
// an API key's name.
const TokenActor = config.SophonActor

// Limits of the Sophon surface.
const (
	maxSmallBody = 1 << 20 // every request without an image: 1,000 IDs fit many times over
	// maxImageBody leaves room beyond the 5 MB image limit, so that an image just over it is
	// answered IMAGE_SIZE_TOO_LARGE_ERROR rather than a bare "body too large".
	maxImageBody = 16 << 20
	// DefaultWait is how long deleteidentities waits for its IDs when not configured.
	DefaultWait = 30 * time.Second
)

// API serves the Sophon surface.
type API struct {
	app    *app.App
	logger *slog.Logger
	wait   time.Duration
}

// New returns the Sophon API over a. wait bounds how long deleteidentities waits for its IDs to
// be terminal (config ERASURE_SOPHON_WAIT); 0 means DefaultWait.
func New(a *app.App, logger *slog.Logger, wait time.Duration) *API {
	if logger == nil {
		logger = slog.Default()
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	return &API{app: a, logger: logger, wait: wait}
}

// Register adds the Sophon routes to mux.
func (api *API) Register(mux *http.ServeMux) {
	for name, h := range map[string]func(*http.Request) (any, error){
		"deleteidentities": api.deleteIdentities,
		"createpermission": api.createPermission,
		"getpermissions":   api.getPermissions,
		"getpermission":    api.getPermission,
		"deletepermission": api.deletePermission,
		"createidentity":   api.createIdentity,
		"getidentity":      api.getIdentity,
		"getidentities":    api.getIdentities,
		"addface":          api.addFace,
		"deleteface":       api.deleteFace,
		"getregisterimage": api.getRegisterImage,
	} {
		mux.HandleFunc("POST "+Prefix+name, api.answer(h))
	}
	// The box's own form of getregisterimage: GET with the image id in the path, answering the
	// image itself.
	mux.HandleFunc("GET "+Prefix+"getregisterimage/{id}", api.answer(api.getRegisterImageFile))
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: %s %s (Sophon endpoints take POST)", errNoSuchAction, r.Method, r.URL.Path))
	})
}

// imageFile is an answer written as the image itself, with its content type: the box's GET form
// of getregisterimage.
type imageFile []byte

// answer serves h: it writes h's answer (200, JSON; an imageFile as it is) or its error in
// Sophon's format through the error table.
func (api *API) answer(h func(*http.Request) (any, error)) http.HandlerFunc {
	return api.recovered(func(w http.ResponseWriter, r *http.Request) {
		ans, err := h(r)
		if err != nil {
			api.fail(w, r, err)
			return
		}
		if img, ok := ans.(imageFile); ok {
			w.Header().Set("Content-Type", http.DetectContentType(img))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(img)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, ans)
	})
}

// recovered answers a panic in Sophon's own format; the shared middleware would answer the
// native one.
func (api *API) recovered(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity
					panic(p)
				}
				api.logger.Error("panic serving Sophon request", "request_id", httpx.RequestID(r), "path", r.URL.Path,
					"panic", p, "stack", string(debug.Stack()))
				writeCode(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
			}
		}()
		h(w, r)
	}
}

// fail answers err, logging what the table does not know (a bug or an outage).
func (api *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if _, known := httpx.LookupError(errorTable, err); !known {
		api.logger.Error("Sophon request failed", "request_id", httpx.RequestID(r), "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}

// caller is who asks, as the request's events record it: the request id, and as the actor the
// API key's name, or TokenActor.
func caller(r *http.Request) app.Caller {
	return app.Caller{RequestID: httpx.RequestID(r), Actor: cmp.Or(httpx.Client(r), TokenActor)}
}

// decode reads the JSON body into v. Unlike the native API it ignores unknown fields: clients
// written against the box send fields erasure does not model (or that newer firmware added), and
// refusing them would break those clients for nothing.
func decode(r *http.Request, limit int64, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fmt.Errorf("%w, got %q", errContentType, ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: limit is %d bytes", httpx.ErrBodyTooLarge, limit)
		}
		if errors.Is(err, httpx.ErrSlowBody) {
			return err // the client's pace, not its JSON
		}
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	if !json.Valid(body) {
		return fmt.Errorf("%w: the body must be one JSON object", errInvalidJSON)
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			what := typeErr.Field
			if what == "" {
				what = "the body"
			}
			return fmt.Errorf("%w: %s must be %s, not %s", errInvalid, what, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return fmt.Errorf("%w: the body must be a JSON object", errInvalid)
	}
	return nil
}

// jsonKind names a Go kind in JSON's words for error messages.
func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "float32", "float64":
		return "a number"
	case "int", "int64", "int32":
		return "an integer"
	}
	return k
}
