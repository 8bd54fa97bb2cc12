package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/metrics"
	"github.com/erasure-dev/erasure/sagas"
)

func scrapeMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

// The observer's counts and log lines for each kind of terminal event, given the events as the
// projection hands them over.
func TestEventObserver(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(secs int, data any) events.Recorded {
		personID, _ := events.PersonIDOf(data) // "" for a request's events
		return events.Recorded{Envelope: events.Envelope{AggregateID: personID, Time: t0.Add(time.Duration(secs) * time.Second), Data: data}}
	}
	tests := []struct {
		name     string
		events   []events.Recorded
		want     []string // in the scrape
		absent   []string
		wantLogs []string // each a line's substring
		logs     int      // lines logged in all
	}{
		{
			name: "a saga's end also ends the items that joined it",
			events: []events.Recorded{
				at(0, events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d1"}),
				at(1, events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d2", Joins: "d1"}),
				at(2, events.PersonRemovedFromTargets{PersonID: "p1", DeletionID: "d1", Targets: []string{"edge"}}),
				at(3, events.PersonDeleted{PersonID: "p1", DeletionID: "d1"}),
				at(4, events.PersonDeletionRequested{PersonID: "p2", DeletionID: "d3"}),
				at(5, events.PersonDeleted{PersonID: "p2", DeletionID: "d3"}),
			},
			want: []string{
				`erasure_deletion_item_outcomes_total{code="OK",outcome="deleted"} 3`,
				`erasure_target_confirmations_total{target="edge"} 1`,
				`erasure_person_deletion_seconds_count{outcome="deleted"} 2`,
			},
			absent: []string{`outcome="failed"`},
		},
		{
			name: "a failure at the targets names them in the counters and the log line, never the message",
			events: []events.Recorded{
				at(0, events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d1"}),
				at(1, events.PersonDeletionRequested{PersonID: "p1", DeletionID: "d2", Joins: "d1"}),
				at(9, events.PersonDeletionFailed{PersonID: "p1", DeletionID: "d1", Code: "STEP_FAILED", Step: "delete_from_targets",
					Targets: []string{"cloud", "edge"}, Message: "target edge: 403 for Li Lei", Attempts: 6}),
			},
			want: []string{
				`erasure_deletion_item_outcomes_total{code="STEP_FAILED",outcome="failed"} 2`,
				`erasure_person_deletion_failures_total{code="STEP_FAILED",step="delete_from_targets"} 1`,
				`erasure_target_failures_total{target="cloud"} 1`,
				`erasure_target_failures_total{target="edge"} 1`,
				`erasure_person_deletion_seconds_sum{outcome="failed"} 9`,
			},
			wantLogs: []string{`level=WARN msg="deletion item failed" deletion_id=d1 person_id=p1 code=STEP_FAILED step=delete_from_targets target=cloud,edge attempts=6`},
			logs:     1,
		},
		{
			name: "refusals at intake and dispatch: counted per item, logged per code",
			events: []events.Recorded{
				at(0, events.DeletionRequested{DeletionID: "d1", PersonIDs: []string{"a", "a", "b!", "c", "d", "e"},
					Rejected: []events.Rejection{{Index: 1, Code: "DUPLICATE_ID"}, {Index: 2, Code: "INVALID_ID"}}}),
				at(1, events.DeletionChunkDispatched{DeletionID: "d1", Failed: []events.Rejection{
					{Index: 3, Code: "ID_NOT_FOUND"}, {Index: 4, Code: "ID_NOT_FOUND"}, {Index: 5, Code: "CANCELLED"}}}),
				at(2, events.PersonDeletionCancelled{PersonID: "a", DeletionID: "d1"}),
			},
			want: []string{
				`erasure_deletion_item_outcomes_total{code="DUPLICATE_ID",outcome="failed"} 1`,
				`erasure_deletion_item_outcomes_total{code="INVALID_ID",outcome="failed"} 1`,
				`erasure_deletion_item_outcomes_total{code="ID_NOT_FOUND",outcome="failed"} 2`,
				`erasure_deletion_item_outcomes_total{code="CANCELLED",outcome="cancelled"} 2`,
			},
			wantLogs: []string{
				`msg="deletion item failed" deletion_id=d1 code=DUPLICATE_ID step=intake target="" items=1`,
				`msg="deletion item failed" deletion_id=d1 code=INVALID_ID step=intake target="" items=1`,
				`msg="deletion item failed" deletion_id=d1 code=ID_NOT_FOUND step=dispatch target="" items=2`,
			},
			logs: 3,
		},
		{
			name: "a completed deletion: its time from the first chunk, or from the read model if it started before",
			events: []events.Recorded{
				at(0, events.DeletionRequested{DeletionID: "d1", PersonIDs: []string{"a"}, Last: true, Total: 1}),
				at(90, events.DeletionCompleted{DeletionID: "d1", Total: 1, Deleted: 1}),
				// d0's request is not among the events seen: the read model says it was made 30s earlier.
				at(120, events.DeletionCompleted{DeletionID: "d0", Total: 4, Deleted: 1, Failed: 2, Cancelled: 1}),
				// unknown to both: logged without a time, not counted.
				at(130, events.DeletionCompleted{DeletionID: "gone", Total: 1, Deleted: 1}),
			},
			want: []string{`erasure_deletion_seconds_count 2`, `erasure_deletion_seconds_sum 120`},
			wantLogs: []string{
				`level=INFO msg="deletion completed" deletion_id=d1 total=1 deleted=1 failed=0 cancelled=0 seconds=90`,
				`level=INFO msg="deletion completed" deletion_id=d0 total=4 deleted=1 failed=2 cancelled=1 seconds=30`,
				`level=INFO msg="deletion completed" deletion_id=gone total=1 deleted=1 failed=0 cancelled=0` + "\n",
			},
			logs: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			var logs bytes.Buffer
			o := newEventObserver(m, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{} // lines compared whole
					}
					return a
				}})))
			o.createdAt = func(_ context.Context, id string) (time.Time, error) {
				if id == "d0" {
					return t0.Add(90 * time.Second), nil
				}
				return time.Time{}, errors.New("no such deletion")
			}
			o.batch(context.Background(), tt.events)
			body := scrapeMetrics(t, m)
			for _, want := range tt.want {
				require.Contains(t, body, want)
			}
			for _, absent := range tt.absent {
				require.NotContains(t, body, absent)
			}
			out := logs.String()
			for _, want := range tt.wantLogs {
				require.Contains(t, out, want)
			}
			require.Equal(t, tt.logs, strings.Count(out, "\n"), out)
			require.NotContains(t, out, "Li Lei")
		})
	}
}

type answeringRemote map[string]error

func (answeringRemote) Name() string { return "edge-1" }

func (a answeringRemote) DeletePersons(context.Context, []string) map[string]error { return a }

func TestObservedRemoteCountsEachPersonOfACall(t *testing.T) {
	m := metrics.New()
	remote := observeRemotes([]sagas.Target{answeringRemote{
		"p2": errors.New("503"),
		"p3": fmt.Errorf("401: %w", sagas.ErrPermanent),
	}}, m)[0]
	require.Equal(t, "edge-1", remote.Name())
	errs := remote.DeletePersons(context.Background(), []string{"p1", "p2", "p3", "p4"})
	require.Len(t, errs, 2, "the target's answer is passed on")
	body := scrapeMetrics(t, m)
	for _, want := range []string{
		`erasure_target_attempts_total{outcome="confirmed",target="edge-1"} 2`,
		`erasure_target_attempts_total{outcome="refused",target="edge-1"} 1`,
		`erasure_target_attempts_total{outcome="refused_permanent",target="edge-1"} 1`,
		`erasure_target_call_duration_seconds_count{target="edge-1"} 1`,
	} {
		require.Contains(t, body, want)
	}

	// A call cut short by shutdown is not an answer: the saga hands its persons back.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	remote.DeletePersons(ctx, []string{"p5"})
	require.Contains(t, scrapeMetrics(t, m), `erasure_target_call_duration_seconds_count{target="edge-1"} 1`)
}
