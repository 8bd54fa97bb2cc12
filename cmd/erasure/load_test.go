package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchLoad runs `erasure bench --load` in-process for a few seconds with a few clients (the
// full run is 200 clients for 60 s): no 5xx, every person deleted exactly once, p99 per route.
func TestBenchLoad(t *testing.T) {
	for _, v := range []string{"ERASURE_API_KEYS", "ERASURE_API_KEY", "NATS_URL", "DATABASE_URL"} {
		t.Setenv(v, "") // embedded NATS and SQLite in a fresh directory, whatever the environment says
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--load", "--clients", "8", "--duration", "3s", "--data", t.TempDir(), "--log-level", "warn"}, &stdout, &stderr)
	require.Zero(t, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res loadResult
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), stdout.String())
	require.True(t, res.OK)
	require.Zero(t, res.Errors5xx)
	require.Zero(t, res.Lost)
	require.Zero(t, res.Duplicated)
	require.Positive(t, res.Creates)
	require.Equal(t, res.Creates, res.PersonsDeleted, "every person created is deleted exactly once")
	for _, route := range []string{"POST /v1/persons", "POST /v1/deletions", "GET /v1/deletions/{id}"} {
		require.Contains(t, res.Routes, route)
		require.Positive(t, res.Routes[route].P99ms, route)
	}
}
