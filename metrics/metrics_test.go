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
	m.ItemOutcome(ItemFailed, "ID_NOT_FOUND", 1)
	m.DeletionCompleted(time.Second)
	m.TargetCall("edge", time.Millisecond, map[string]int{AttemptConfirmed: 1})
	m.TargetConfirmed("edge")
	m.TargetFailed("edge")
	m.SetDeletionBacklog(nil)
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

func TestDeletionBacklogGauges(t *testing.T) {
	m := New()
	require.NotContains(t, scrape(t, m), "erasure_deletions_running", "absent until the service reports it")

	backlog := DeletionBacklog{Running: 2, Pending: 40, Deleted: 7, Failed: 3}
	m.SetDeletionBacklog(func(context.Context) (DeletionBacklog, error) { return backlog, nil })
	body := scrape(t, m)
	for _, want := range []string{
		`erasure_deletions_running 2`,
		`erasure_deletion_items{state="pending"} 40`,
		`erasure_deletion_items{state="deleted"} 7`,
		`erasure_deletion_items{state="failed"} 3`,
		`erasure_deletion_items{state="cancelled"} 0`,
	} {
		require.Contains(t, body, want)
	}
	// Measured at each scrape: the next one sees the read model as it is then.
	backlog = DeletionBacklog{Running: 1, Pending: 5}
	require.Contains(t, scrape(t, m), `erasure_deletion_items{state="pending"} 5`)

	m.SetDeletionBacklog(func(context.Context) (DeletionBacklog, error) { return DeletionBacklog{}, errors.New("down") })
	require.NotContains(t, scrape(t, m), "erasure_deletions_running", "a failing read model is left out, not reported as zero")
}

func TestCounters(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *Metrics)
		want   []string
		absent []string
	}{
		{
			name: "item outcomes add up by outcome and code",
			record: func(m *Metrics) {
				m.ItemOutcome(ItemDeleted, CodeOK, 3)
				m.ItemOutcome(ItemFailed, "ID_NOT_FOUND", 2)
				m.ItemOutcome(ItemFailed, "ID_NOT_FOUND", 1)
				m.ItemOutcome(ItemCancelled, "CANCELLED", 0) // nothing ended: no series
			},
			want: []string{
				`erasure_deletion_item_outcomes_total{code="OK",outcome="deleted"} 3`,
				`erasure_deletion_item_outcomes_total{code="ID_NOT_FOUND",outcome="failed"} 3`,
			},
			absent: []string{`outcome="cancelled"`},
		},
		{
			name: "target calls count persons by outcome",
			record: func(m *Metrics) {
				m.TargetCall("edge-1", 30*time.Millisecond, map[string]int{AttemptConfirmed: 4, AttemptRefused: 1})
				m.TargetCall("edge-1", 10*time.Millisecond, map[string]int{AttemptConfirmed: 1, AttemptPermanent: 0})
				m.TargetConfirmed("edge-1")
				m.TargetFailed("cloud")
			},
			want: []string{
				`erasure_target_attempts_total{outcome="confirmed",target="edge-1"} 5`,
				`erasure_target_attempts_total{outcome="refused",target="edge-1"} 1`,
				`erasure_target_call_duration_seconds_count{target="edge-1"} 2`,
				`erasure_target_confirmations_total{target="edge-1"} 1`,
				`erasure_target_failures_total{target="cloud"} 1`,
			},
			absent: []string{`outcome="refused_permanent"`},
		},
		{
			name:   "deletion durations",
			record: func(m *Metrics) { m.DeletionCompleted(90 * time.Second) },
			want:   []string{`erasure_deletion_seconds_count 1`, `erasure_deletion_seconds_sum 90`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			tt.record(m)
			body := scrape(t, m)
			for _, want := range tt.want {
				require.Contains(t, body, want)
			}
			for _, absent := range tt.absent {
				require.NotContains(t, body, absent)
			}
		})
	}
}
