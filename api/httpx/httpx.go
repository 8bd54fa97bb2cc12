// Package httpx holds what every HTTP front door shares: strict JSON decoding with body limits,
// request ids, access logs and panic recovery. Each surface keeps its own error format.
package httpx

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// Decoding errors a surface maps to its own codes.
var (
	ErrBodyTooLarge = errors.New("request body too large")
	ErrInvalidJSON  = errors.New("request body is not valid JSON")
	ErrUnknownField = errors.New("unknown field")
	ErrWrongType    = errors.New("field has the wrong type")
)

// DecodeJSON reads one JSON value of at most limit bytes into v, refusing unknown fields and
// trailing data.
func DecodeJSON(r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: limit is %d bytes", ErrBodyTooLarge, limit)
		}
		if errors.Is(err, ErrSlowBody) {
			return err // the client's pace, not its JSON
		}
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return fmt.Errorf("%w: %s must be %s", ErrWrongType, typeErr.Field, typeErr.Type)
		case bytes.HasPrefix(bytes.TrimSpace([]byte(err.Error())), []byte("json: unknown field")):
			return fmt.Errorf("%w: %s", ErrUnknownField, err.Error()[len("json: unknown field "):])
		default:
			return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
		}
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrInvalidJSON)
	}
	return nil
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type ctxKey struct{}

// requestState is what the middleware and the guards learn about a request as it is served, for
// the access log and the metrics.
type requestState struct {
	id     string
	route  string // the ServeMux pattern that matches, "" if none
	client string // the API key's name once authenticated, else empty
}

func state(r *http.Request) *requestState {
	st, _ := r.Context().Value(ctxKey{}).(*requestState)
	return st
}

// RequestID returns the request's id (from X-Request-Id or generated).
func RequestID(r *http.Request) string {
	if st := state(r); st != nil {
		return st.id
	}
	return ""
}

// Route returns the ServeMux pattern the request matches ("GET /v1/persons/{id}"), or "" when
// none does or the middleware was not given the mux (WithRoutes).
func Route(r *http.Request) string {
	if st := state(r); st != nil {
		return st.route
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
	err    error // an unmapped error a handler answered 5xx for (NoteError)
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// NoteError records the error behind a 5xx answer so that the access log line carries it: a
// surface's error table answers "internal error" to the client and must not lose the cause.
func NoteError(w http.ResponseWriter, err error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.err = err
	}
}

// statusClientClosed is what the access log and the metrics record for a request whose client
// left before the answer.
const statusClientClosed = 499

// Middleware adds a request id, logs each request (method, path, route, status, duration,
// client: never a body, so never a name), records it in the metrics (WithMetrics), and turns a
// panic into the surface's own 500 answer.
func Middleware(logger *slog.Logger, onPanic func(http.ResponseWriter, *http.Request), opts ...Option) func(http.Handler) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if id == "" || len(id) > 64 || !printable(id) {
				id = newRequestID()
			}
			st := &requestState{id: id}
			if o.routes != nil {
				_, st.route = o.routes.Handler(r)
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
			w.Header().Set("X-Request-Id", id)
			sw := &statusWriter{ResponseWriter: w}
			start := time.Now()
			o.metrics.InFlight(1)
			defer func() {
				o.metrics.InFlight(-1)
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity
						panic(p)
					}
					logger.Error("panic serving request", "request_id", id, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
					if sw.status == 0 {
						onPanic(sw, r)
					}
				}
				status := sw.status
				if status == 0 {
					status = http.StatusOK // the handler wrote nothing: net/http answers 200
				}
				if status >= http.StatusInternalServerError && r.Context().Err() != nil {
					// The client went away, and the handler failed because its context ended: not
					// the server's error. Recorded as nginx's 499 "client closed request".
					status, sw.err = statusClientClosed, nil
				}
				d := time.Since(start)
				o.metrics.HTTPRequest(st.route, status, d)
				attrs := []any{"request_id", id, "method", r.Method, "path", r.URL.Path, "route", st.route,
					"status", status, "ms", d.Milliseconds()}
				if st.client != "" {
					attrs = append(attrs, "client", st.client)
				}
				if sw.err != nil {
					attrs = append(attrs, "err", sw.err.Error())
					logger.Error("http", attrs...)
					return
				}
				logger.Info("http", attrs...)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// printable reports whether a client-given request id is safe to echo and log as is.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID returns a fresh request id: 128 random bits in hex, the form of erasure's ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
