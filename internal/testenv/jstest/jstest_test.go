package jstest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/internal/testenv/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// A store written through one server is there, event for event, when a later server opens the
// same directory after Stop: what a test reading a stopped service's log relies on. Both
// durability modes keep what was written before a clean stop.
func TestStopHandsTheStoreOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		durable bool
	}{
		{"lazy fsync", false},
		{"fsync always", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			first := jstest.Start(t, jstest.Options{StoreDir: dir, Durable: tc.durable})
			log := jstest.Store(t, first.JetStream("writer"), eventlog.StoreConfig{})
			e, err := events.New(events.AggregatePerson, "p1", events.PersonDeleted{PersonID: "p1", DeletionID: "d1"}, events.Meta{})
			require.NoError(t, err)
			seq, err := log.Append(ctx, 0, e)
			require.NoError(t, err)
			first.Stop()
			first.Stop() // a second Stop, as the test's cleanup will call, does nothing

			again := jstest.Store(t, jstest.New(t, jstest.Options{StoreDir: dir}), eventlog.StoreConfig{})
			history, last, err := again.Load(ctx, events.AggregatePerson, "p1")
			require.NoError(t, err)
			require.Equal(t, seq, last)
			require.Len(t, history, 1)
			require.Equal(t, events.PersonDeleted{PersonID: "p1", DeletionID: "d1"}, history[0].Data)
		})
	}
}

// Connect reaches a server over TCP, as tests of a service with ERASURE_NATS_LISTEN do.
func TestConnectOverTCP(t *testing.T) {
	t.Parallel()
	srv := jstest.Start(t, jstest.Options{Listen: "127.0.0.1:-1"})
	js := jstest.Connect(t, srv.ClientURL())
	info, err := js.AccountInfo(context.Background())
	require.NoError(t, err)
	require.Zero(t, info.Streams, "a fresh server has no streams")
}
