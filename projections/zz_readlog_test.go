package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/projections"
)

func TestZZReadLogSpeed(t *testing.T) {
	s := newStore(t)
	last := seedBusyLog(t, s, 20000)
	start := time.Now()
	var n int
	require.NoError(t, projections.ReadLog(context.Background(), s, 1, last, 4096, func(b []events.Recorded) error { n += len(b); return nil }))
	t.Logf("read %d events in %v = %.0f/s", n, time.Since(start), float64(n)/time.Since(start).Seconds())
}
