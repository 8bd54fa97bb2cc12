package service_test

import (
	"bytes"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
)

// TestWorkersAreLabelledForTheProfiler: every background worker's goroutines carry a "worker"
// label, so that `erasure bench --cpuprofile` (go tool pprof -tagfocus worker=...) shows what
// each one costs.
func TestWorkersAreLabelledForTheProfiler(t *testing.T) {
	t.Parallel()
	testenv.Start(t, testenv.Config(t, "sqlite"))
	want := []string{
		"projection", "person-deletion-saga", "deletion-dispatcher", "deletion-completer", "permission-deletion",
		"group-deletion", "group-deletion-saga", "group-deletion-completer",
		"webhooks", "webhook-intake", "webhook-scheduler",
	}
	var missing []string
	require.Eventually(t, func() bool {
		var buf bytes.Buffer
		require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 1))
		profile := buf.String()
		missing = slices.DeleteFunc(slices.Clone(want), func(name string) bool {
			// debug=1 prints each goroutine group's labels as # labels: {"worker":"name"}
			return strings.Contains(profile, `"worker":"`+name+`"`)
		})
		return len(missing) == 0
	}, 10*time.Second, 50*time.Millisecond, "workers without a labelled goroutine: %v", &missing)
}
