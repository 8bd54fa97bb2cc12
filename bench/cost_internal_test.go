package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/sqldb"
)

// TestCostPerPerson: the cost figures are the counters' differences per person; a durable
// consumer created during the phase counts from zero, and "followers" are the deliveries no
// durable consumer accounts for.
func TestCostPerPerson(t *testing.T) {
	t.Parallel()
	before := cost{lastSeq: 100, delivered: 1000, byConsumer: map[string]uint64{"person-deletion-saga": 400, "erasure_webhooks": 300},
		sql: sqldb.Counts{Statements: 50, Transactions: 5}, mallocs: 10_000, gcCPU: 1}
	after := cost{lastSeq: 600, delivered: 2600, byConsumer: map[string]uint64{"person-deletion-saga": 900, "erasure_webhooks": 700, "batch-deletion-saga": 3},
		sql: sqldb.Counts{Statements: 1550, Transactions: 15}, mallocs: 110_000, gcCPU: 1.05}
	var res DeletionResult
	after.sub(before).perPerson(&res, 100)
	require.InDelta(t, 5.0, res.EventsPerPerson, 1e-9)
	require.InDelta(t, 16.0, res.DeliveriesPerPerson, 1e-9)
	require.InDelta(t, 15.0, res.SQLStatementsPerPerson, 1e-9)
	require.InDelta(t, 0.1, res.SQLTransactionsPerPerson, 1e-9)
	require.InDelta(t, 1000.0, res.AllocsPerPerson, 1e-9)
	require.InDelta(t, 0.5, res.GCCPUmsPerPerson, 1e-9)
	require.Equal(t, map[string]float64{"person-deletion-saga": 5, "erasure_webhooks": 4, "batch-deletion-saga": 0.03,
		"followers": 6.97}, res.DeliveriesByConsumer) // 1600 - (500 + 400 + 3) = 697 by no durable consumer

	// A consumer the server no longer counts (deleted, recreated) never makes a negative count.
	shrunk := cost{byConsumer: map[string]uint64{"person-deletion-saga": 10}}
	require.Equal(t, uint64(0), shrunk.sub(before).byConsumer["person-deletion-saga"])
}

// TestPercentileMS: the p-th of the sorted latencies, in milliseconds.
func TestPercentileMS(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	descending := func(n int) []time.Duration { // n ms down to 1 ms: percentileMS must sort
		var ds []time.Duration
		for i := n; i >= 1; i-- {
			ds = append(ds, time.Duration(i)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want float64
	}{
		{"none", nil, 0.99, 0},
		{"one", ms(7), 0.5, 7},
		{"median of unsorted", ms(30, 10, 20), 0.5, 20},
		{"p50 of 100", descending(100), 0.5, 51},
		{"p99 of 100 is the last", descending(100), 0.99, 100},
		{"sub-millisecond", []time.Duration{1500 * time.Microsecond}, 0.5, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, percentileMS(tc.ds, tc.p), 1e-9)
		})
	}
}
