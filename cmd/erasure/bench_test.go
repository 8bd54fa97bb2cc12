package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBench runs `erasure bench` end to end on a few persons (the published run is 20,000): its
// last line has every figure, the cost counts of issue 16 among them, each in a sane range.
func TestBench(t *testing.T) {
	for _, v := range []string{"ERASURE_API_KEYS", "ERASURE_API_KEY", "NATS_URL", "DATABASE_URL"} {
		t.Setenv(v, "") // embedded NATS and SQLite in a fresh directory, whatever the environment says
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--persons", "200", "--data", t.TempDir(), "--log-level", "warn"}, &stdout, &stderr)
	require.Zero(t, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(last), &fields), last)
	for _, f := range []string{"persons", "seconds", "persons_per_s", "p50_ms", "p99_ms", "floor_seconds", "ratio", "peak_rss_mb",
		"cpu_ms_per_person", "events_per_person", "deliveries_per_person", "sql_statements_per_person", "allocs_per_person",
		"gc_cpu_ms_per_person", "replay_events_per_s", "replay_persons_per_s"} {
		require.Contains(t, fields, f, last)
	}
	var res benchResult
	require.NoError(t, json.Unmarshal([]byte(last), &res))
	require.Equal(t, 200, res.Persons)
	require.Positive(t, res.PersonsPerS)
	require.Positive(t, res.CPUmsPerPerson)
	require.GreaterOrEqual(t, res.EventsPerPerson, 2.0, "a request and a terminal event per person at the least")
	require.LessOrEqual(t, res.EventsPerPerson, 20.0)
	require.Greater(t, res.DeliveriesPerPerson, res.EventsPerPerson, "each event reaches the projection and some consumer besides")
	require.Contains(t, res.DeliveriesByConsumer, "person-deletion-saga")
	require.Contains(t, res.DeliveriesByConsumer, "followers")
	require.Positive(t, res.SQLStatementsPerPerson)
	require.Positive(t, res.SQLTransactionsPerPerson)
	require.Positive(t, res.AllocsPerPerson)
	require.GreaterOrEqual(t, res.GCCPUmsPerPerson, 0.0)
	require.Equal(t, 200, res.ReplayPersons, "every person of the log was replayed")
	require.Positive(t, res.ReplayPersonsPerS)
	require.Positive(t, res.ReplayEventsPerS)
}

// TestBenchSingle runs `erasure bench --single 5`: five persons deleted one by one through the
// Tencent SDK, each call timed, and each person gone from the registry when its call answered.
func TestBenchSingle(t *testing.T) {
	for _, v := range []string{"ERASURE_API_KEYS", "ERASURE_API_KEY", "NATS_URL", "DATABASE_URL",
		"ERASURE_TENCENT_SECRET_ID", "ERASURE_TENCENT_SECRET_KEY", "ERASURE_TENCENT_RATE", "ERASURE_TENCENT_BURST"} {
		t.Setenv(v, "") // embedded NATS and SQLite, the bench's own credential, whatever the environment says
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--single", "5", "--data", t.TempDir(), "--log-level", "warn"}, &stdout, &stderr)
	require.Zero(t, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	var res singleResult
	require.NoError(t, json.Unmarshal([]byte(last), &res), last)
	require.Equal(t, 5, res.Persons, last)
	require.Equal(t, 5, res.GoneAtAnswer, "every person is deleted once its DeletePerson answered: %s", last)
	require.Equal(t, "deletion_terminal", res.AnswersWhen)
	require.Equal(t, "embedded-nats+sqlite", res.Mode)
	require.Positive(t, res.P50ms, last)
	require.GreaterOrEqual(t, res.P99ms, res.P50ms, last)
	require.GreaterOrEqual(t, res.MaxMs, res.P99ms, last)

	stdout.Reset()
	stderr.Reset()
	require.Zero(t, run([]string{"bench", "--help"}, &stdout, &stderr))
	require.Contains(t, stdout.String()+stderr.String(), "--single int")
}
