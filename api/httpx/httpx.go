// Package httpx holds what every HTTP front door shares: strict JSON decoding with body limits,
// request ids, access logs and panic recovery. Each surface keeps its own error format.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/erasure-dev/erasure/events"
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

// RequestID returns the request's id (from X-Request-Id or generated).
func RequestID(r *http.Request) string {
	if id, ok := r.Context().Value(ctxKey{}).(string); ok {
		return id
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
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

// Middleware adds a request id, logs each request (method, path, status, duration: never a
// body, so never a name), and turns a panic into the surface's own 500 answer.
func Middleware(logger *slog.Logger, onPanic func(http.ResponseWriter, *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if id == "" || len(id) > 64 {
				id = events.NewID()
			}
			r = r.WithContext(contextWith(r, id))
			w.Header().Set("X-Request-Id", id)
			sw := &statusWriter{ResponseWriter: w}
			start := time.Now()
			defer func() {
				if p := recover(); p != nil {
					logger.Error("panic serving request", "request_id", id, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
					if sw.status == 0 {
						onPanic(sw, r)
					}
				}
				logger.Info("http", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"status", sw.status, "ms", time.Since(start).Milliseconds())
			}()
			next.ServeHTTP(sw, r)
		})
	}
}
