package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.HTTPRequest("GET /x", 200, time.Millisecond)
	m.InFlight(1)
	m.Refused("native", "rate_limited")
	m.Event("PersonDeleted")
	m.SagaStep("purge_faces", time.Millisecond, errors.New("x"))
	m.DeletionFailed("STEP_FAILED", "purge_faces")
	m.PersonDeletion("deleted", time.Second)
	m.WebhookDelivery(WebhookDelivered)
	m.SetWebhookBacklog(nil)
	m.SetProjectionLag(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 404, rec.Code)
}

func TestScrapedGauges(t *testing.T) {
	m := New()
	body := scrape(t, m)
	require.NotContains(t, body, "erasure_webhook_backlog", "absent until the dispatcher reports it")
	require.NotContains(t, body, "erasure_projection_lag_events")

	m.SetWebhookBacklog(func(context.Context) (int, int, error) { return 7, 2, nil })
	m.SetProjectionLag(func(context.Context) (uint64, float64, error) { return 12, 1.5, nil })
	m.WebhookDelivery(WebhookFailed)
	m.SagaStep("purge_faces", 20*time.Millisecond, errors.New("store down"))
	m.DeletionFailed("STEP_FAILED", "purge_faces")
	body = scrape(t, m)
	for _, want := range []string{
		`erasure_webhook_backlog{state="pending"} 7`,
		`erasure_webhook_backlog{state="dead_lettered"} 2`,
		`erasure_projection_lag_events 12`,
		`erasure_projection_lag_seconds 1.5`,
		`erasure_webhook_deliveries_total{outcome="failed"} 1`,
		`erasure_saga_step_errors_total{step="purge_faces"} 1`,
		`erasure_person_deletion_failures_total{code="STEP_FAILED",step="purge_faces"} 1`,
	} {
		require.Contains(t, body, want)
	}
	// A gauge whose store fails is left out of the scrape, not reported as zero.
	m.SetProjectionLag(func(context.Context) (uint64, float64, error) { return 0, 0, errors.New("down") })
	require.NotContains(t, scrape(t, m), "erasure_projection_lag_events")
}
