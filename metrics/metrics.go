// Package metrics is erasure's Prometheus registry: one per running service, served at /metrics.
// It is a leaf package (it imports only the Prometheus client and internal/buildinfo), so every layer can report into
// it without new dependencies between them. docs/operations-metrics.md lists every metric with
// the dashboard and alert rules built on them (deploy/grafana, deploy/prometheus).
//
// No label carries an ID (person, deletion, face): label values come from bounded sets (routes,
// event types, steps, error codes, outcomes, configured target names), so the series stay few
// however many persons are deleted.
//
// What it exposes (all prefixed erasure_):
//
//   - http_request_duration_seconds{route,status}: every HTTP request, route being the ServeMux
//     pattern that matched ("GET /v1/persons/{id}"), never the raw path, so the label set is
//     bounded; http_requests_in_flight; http_refused_total{surface,reason} for requests refused
//     by a limit or for authentication.
//   - events_total{type}: events recorded in the log, counted as the read-model projection
//     applies them (on a replica sharing the read model with others, the sum over replicas).
//   - deletion_item_outcomes_total{outcome,code}: items of deletion requests reaching a terminal
//     state (deleted with code OK, failed with its error code, ID_NOT_FOUND and the intake's
//     refusals included, cancelled), counted like events_total from the events the projection
//     applies; deletion_seconds: deletion requests from request to DeletionCompleted.
//   - deletions_running and deletion_items{state}: running deletion requests and their items by
//     state (pending, deleted, failed, cancelled), read from the read model when scraped.
//   - saga_step_duration_seconds{step} and saga_step_errors_total{step}: each downstream call of
//     a person-deletion step, and those that failed (each failure is retried with backoff until
//     the step's budget is spent); person_deletion_failures_total{code,step}: persons whose
//     deletion ended in PersonDeletionFailed; person_deletion_seconds{outcome}: request to
//     terminal, per person.
//   - target_call_duration_seconds{target} and target_attempts_total{target,outcome}: calls to
//     an external target and, per person in a call, whether it confirmed (confirmed), refused
//     for a retry (refused) or for good (refused_permanent), counted by the replica that called;
//     target_confirmations_total{target} and target_failures_total{target}: persons a target
//     confirmed, and persons whose deletion failed naming the target, counted from the log.
//   - projection_lag_events and projection_lag_seconds: how far the read model is behind the log
//     (seconds: the age of the oldest event not yet applied), measured when scraped.
//   - webhook_deliveries_total{outcome} and webhook_backlog{state}: reported by the webhook
//     dispatcher through WebhookDelivery and SetWebhookBacklog (pending: queued or retrying;
//     dead_lettered: given up, waiting for an operator).
//   - build_info{version,revision,go_version}: always 1; which build is running (as `erasure
//     version` prints it).
//
// A nil *Metrics is valid and records nothing, so tests and tools can run the same code without
// a registry.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/erasure-dev/erasure/internal/buildinfo"
)

// Namespace prefixes every metric name.
const Namespace = "erasure"

// Outcomes of a webhook delivery attempt, the values of webhook_deliveries_total's label.
const (
	WebhookDelivered    = "delivered"     // the receiver answered 2xx
	WebhookFailed       = "failed"        // non-2xx or timeout; it will be retried
	WebhookDeadLettered = "dead_lettered" // the retry schedule is spent
)

// States of a deletion item (the read model's): deletion_items' state label, and but for
// pending the values of deletion_item_outcomes_total's outcome label.
const (
	ItemPending   = "pending"
	ItemDeleted   = "deleted"
	ItemFailed    = "failed"
	ItemCancelled = "cancelled"
)

// CodeOK is the code label of deleted items, which carry no error code.
const CodeOK = "OK"

// Outcomes of one person in one call to an external target, the values of
// target_attempts_total's outcome label.
const (
	AttemptConfirmed = "confirmed"         // the target deleted the person (or never held it)
	AttemptRefused   = "refused"           // a refusal the saga retries
	AttemptPermanent = "refused_permanent" // a refusal retrying cannot change (sagas.ErrPermanent)
)

// DeletionBacklog is the read model's view of the deletion requests still running.
type DeletionBacklog struct {
	Running int // deletion requests not completed
	// Their items by state.
	Pending, Deleted, Failed, Cancelled int
}

// latencyBuckets span a fast read (1 ms) to a Sophon call waiting for its deletions (60 s).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics holds the service's collectors.
type Metrics struct {
	reg *prometheus.Registry

	httpDuration  *prometheus.HistogramVec
	httpInFlight  prometheus.Gauge
	httpRefused   *prometheus.CounterVec
	events        *prometheus.CounterVec
	stepDuration  *prometheus.HistogramVec
	stepErrors    *prometheus.CounterVec
	failures      *prometheus.CounterVec
	personSeconds *prometheus.HistogramVec
	webhooks      *prometheus.CounterVec

	itemOutcomes        *prometheus.CounterVec
	deletionSeconds     prometheus.Histogram
	targetDuration      *prometheus.HistogramVec
	targetAttempts      *prometheus.CounterVec
	targetConfirmations *prometheus.CounterVec
	targetFailures      *prometheus.CounterVec

	mu             sync.Mutex
	webhookBacklog func(context.Context) (pending, deadLettered int, err error)
	lag            func(context.Context) (events uint64, seconds float64, err error)
	deletions      func(context.Context) (DeletionBacklog, error)
}

// New returns a registry with erasure's metrics and the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "http_request_duration_seconds", Help: "HTTP requests by route (the ServeMux pattern) and status.",
		Buckets: latencyBuckets}, []string{"route", "status"})
	m.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "http_requests_in_flight", Help: "HTTP requests being served."})
	m.httpRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "http_refused_total", Help: "HTTP requests refused by a limit or for authentication, by surface and reason."},
		[]string{"surface", "reason"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "events_total", Help: "Events recorded in the log by type, counted as the read-model projection applies them."},
		[]string{"type"})
	m.stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "saga_step_duration_seconds", Help: "Downstream calls of person-deletion saga steps (one call covers a batch of persons).",
		Buckets: latencyBuckets}, []string{"step"})
	m.stepErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "saga_step_errors_total", Help: "Failed downstream calls of person-deletion saga steps; each is retried until the step's budget is spent."},
		[]string{"step"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "person_deletion_failures_total", Help: "Persons whose deletion failed (PersonDeletionFailed), by error code and step."},
		[]string{"code", "step"})
	m.personSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "person_deletion_seconds", Help: "Per person, from the deletion request to the terminal event, by outcome (deleted, failed).",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}}, []string{"outcome"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "webhook_deliveries_total", Help: "Webhook delivery attempts by outcome (delivered, failed, dead_lettered)."},
		[]string{"outcome"})
	m.itemOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "deletion_item_outcomes_total",
		Help: "Deletion request items reaching a terminal state, by outcome (deleted, failed, cancelled) and code (OK for deleted); " +
			"counted from the events the read-model projection applies (once per event cluster-wide), refusals at intake and dispatch included. " +
			"A failed item retried by an operator counts again when it ends."},
		[]string{"outcome", "code"})
	m.deletionSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "deletion_seconds", Help: "Deletion requests from the request to DeletionCompleted (every item terminal).",
		Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}})
	m.targetDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "target_call_duration_seconds", Help: "Calls to an external target (one call covers a batch of persons), by the configured target's name.",
		Buckets: latencyBuckets}, []string{"target"})
	m.targetAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "target_attempts_total",
		Help: "Persons sent to an external target, per call, by outcome (confirmed, refused: retried, refused_permanent); counted by the replica that called."},
		[]string{"target", "outcome"})
	m.targetConfirmations = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "target_confirmations_total", Help: "Persons whose deletion an external target confirmed (PersonRemovedFromTargets), counted from the events the projection applies."},
		[]string{"target"})
	m.targetFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "target_failures_total", Help: "Persons whose deletion failed at an external target once its retries were spent (PersonDeletionFailed naming it), counted from the events the projection applies."},
		[]string{"target"})
	build := buildinfo.Read()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build is running (as erasure version prints it).",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "go_version": build.GoVersion}})
	buildInfo.Set(1)
	m.reg.MustRegister(m.httpDuration, m.httpInFlight, m.httpRefused, m.events, m.stepDuration, m.stepErrors,
		m.failures, m.personSeconds, m.webhooks, m.itemOutcomes, m.deletionSeconds, m.targetDuration, m.targetAttempts,
		m.targetConfirmations, m.targetFailures, scraped{m}, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where further collectors register (MustRegister).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the Prometheus text exposition.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// HTTPRequest records one served request.
func (m *Metrics) HTTPRequest(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpDuration.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// InFlight adds delta to the requests being served.
func (m *Metrics) InFlight(delta int) {
	if m != nil {
		m.httpInFlight.Add(float64(delta))
	}
}

// Refused counts a request refused on surface ("native", "sophon", "tencent") for reason
// ("unauthenticated", "rate_limited", "url_too_long", ...).
func (m *Metrics) Refused(surface, reason string) {
	if m != nil {
		m.httpRefused.WithLabelValues(surface, reason).Inc()
	}
}

// Event counts one event of type name applied from the log.
func (m *Metrics) Event(name string) {
	if m != nil {
		m.events.WithLabelValues(name).Inc()
	}
}

// SagaStep records one downstream call of a saga step and whether it failed.
func (m *Metrics) SagaStep(step string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.stepDuration.WithLabelValues(step).Observe(d.Seconds())
	if err != nil {
		m.stepErrors.WithLabelValues(step).Inc()
	}
}

// DeletionFailed counts a person whose deletion failed with code at step.
func (m *Metrics) DeletionFailed(code, step string) {
	if m != nil {
		m.failures.WithLabelValues(code, step).Inc()
	}
}

// PersonDeletion records one person's time from request to terminal event.
func (m *Metrics) PersonDeletion(outcome string, d time.Duration) {
	if m != nil {
		m.personSeconds.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// ItemOutcome counts n deletion items that reached outcome (ItemDeleted, ItemFailed,
// ItemCancelled) with code (CodeOK for deleted items, else the item's error code).
func (m *Metrics) ItemOutcome(outcome, code string, n int) {
	if m != nil && n > 0 {
		m.itemOutcomes.WithLabelValues(outcome, code).Add(float64(n))
	}
}

// DeletionCompleted records one deletion request's time from request to DeletionCompleted.
func (m *Metrics) DeletionCompleted(d time.Duration) {
	if m != nil {
		m.deletionSeconds.Observe(d.Seconds())
	}
}

// TargetCall records one call to the external target and how many of its persons ended in each
// outcome (AttemptConfirmed, AttemptRefused, AttemptPermanent).
func (m *Metrics) TargetCall(target string, d time.Duration, outcomes map[string]int) {
	if m == nil {
		return
	}
	m.targetDuration.WithLabelValues(target).Observe(d.Seconds())
	for outcome, n := range outcomes {
		if n > 0 {
			m.targetAttempts.WithLabelValues(target, outcome).Add(float64(n))
		}
	}
}

// TargetConfirmed counts one person whose deletion the target confirmed.
func (m *Metrics) TargetConfirmed(target string) {
	if m != nil {
		m.targetConfirmations.WithLabelValues(target).Inc()
	}
}

// TargetFailed counts one person whose deletion failed at the target.
func (m *Metrics) TargetFailed(target string) {
	if m != nil {
		m.targetFailures.WithLabelValues(target).Inc()
	}
}

// WebhookDelivery counts one delivery attempt's outcome: WebhookDelivered, WebhookFailed or
// WebhookDeadLettered.
func (m *Metrics) WebhookDelivery(outcome string) {
	if m != nil {
		m.webhooks.WithLabelValues(outcome).Inc()
	}
}

// SetWebhookBacklog installs what /metrics asks for webhook_backlog: the deliveries waiting
// (pending or retrying) and those dead-lettered. Until it is set the gauge is absent.
func (m *Metrics) SetWebhookBacklog(f func(ctx context.Context) (pending, deadLettered int, err error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.webhookBacklog = f
}

// SetProjectionLag installs what /metrics asks for projection_lag_events and
// projection_lag_seconds.
func (m *Metrics) SetProjectionLag(f func(ctx context.Context) (events uint64, seconds float64, err error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lag = f
}

// SetDeletionBacklog installs what /metrics asks for deletions_running and deletion_items. Until
// it is set the gauges are absent.
func (m *Metrics) SetDeletionBacklog(f func(ctx context.Context) (DeletionBacklog, error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deletions = f
}

// scraped collects the gauges that are measured when scraped: each asks a store, bounded by
// scrapeTimeout, and is left out of the scrape when it fails.
type scraped struct{ m *Metrics }

const scrapeTimeout = 2 * time.Second

var (
	lagEventsDesc = prometheus.NewDesc(Namespace+"_projection_lag_events",
		"Events in the log that the read model has not applied yet.", nil, nil)
	lagSecondsDesc = prometheus.NewDesc(Namespace+"_projection_lag_seconds",
		"Age of the oldest event the read model has not applied yet (0 when caught up).", nil, nil)
	backlogDesc = prometheus.NewDesc(Namespace+"_webhook_backlog",
		"Webhook deliveries waiting (state pending: not yet delivered, retries included) or dead-lettered.", []string{"state"}, nil)
	runningDesc = prometheus.NewDesc(Namespace+"_deletions_running",
		"Deletion requests not completed yet (state running in the read model).", nil, nil)
	itemsDesc = prometheus.NewDesc(Namespace+"_deletion_items",
		"Items of the running deletion requests by state (pending: not terminal yet).", []string{"state"}, nil)
)

func (s scraped) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagEventsDesc
	ch <- lagSecondsDesc
	ch <- backlogDesc
	ch <- runningDesc
	ch <- itemsDesc
}

func (s scraped) Collect(ch chan<- prometheus.Metric) {
	s.m.mu.Lock()
	lag, backlog, deletions := s.m.lag, s.m.webhookBacklog, s.m.deletions
	s.m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if lag != nil {
		if n, secs, err := lag(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(lagEventsDesc, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, secs)
		}
	}
	if backlog != nil {
		if pending, dead, err := backlog(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(pending), "pending")
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(dead), "dead_lettered")
		}
	}
	if deletions != nil {
		if b, err := deletions(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(b.Running))
			for state, n := range map[string]int{ItemPending: b.Pending, ItemDeleted: b.Deleted, ItemFailed: b.Failed, ItemCancelled: b.Cancelled} {
				ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(n), state)
			}
		}
	}
}
