package httpx

import (
	"net/http"

	"github.com/erasure-dev/erasure/metrics"
)

// Option adjusts Middleware.
type Option func(*options)

type options struct {
	metrics *metrics.Metrics
	routes  Router
}

// Router finds the pattern a request matches; *http.ServeMux is one.
type Router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// WithMetrics records every request's latency by route and status in m.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithRoutes names each request's route (its ServeMux pattern) in the access log and the
// metrics, and lets the guards tell the surfaces apart by route rather than by raw path.
func WithRoutes(mux Router) Option { return func(o *options) { o.routes = mux } }
