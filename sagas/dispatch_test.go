package sagas_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

// TestDispatchComesBackAsSoonAsASagaStep: a request half dispatched when its replica died is
// handed to another worker after ERASURE_SAGA_ACK_WAIT, as a saga step is, not after a fixed
// 2 minutes (TestKillDuringBulkDeletion once found 660 of 2,000 persons still undispatched at
// its deadline).
func TestDispatchComesBackAsSoonAsASagaStep(t *testing.T) {
	cfg := testenv.Config(t, "sqlite")
	cfg.SagaAckWait = 3 * time.Second
	cfg.NATSListen = freeAddr(t)
	var target *faultyTarget
	env := startWith(t, cfg, &target)
	a := api{t, env.HTTP.URL}

	js := jstest.Connect(t, "nats://"+cfg.NATSListen)
	ctx := context.Background()
	var c jetstream.Consumer
	var err error
	require.Eventually(t, func() bool {
		c, err = js.Consumer(ctx, cfg.Stream, "deletion-dispatch")
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "the dispatcher's consumer exists")
	require.Equal(t, cfg.SagaAckWait, c.CachedInfo().Config.AckWait)

	// Deletions still run with it.
	ids := []string{"d-1", "d-2", "d-3"}
	for _, id := range ids {
		a.createPerson(id)
	}
	d := a.waitDeletion(a.deleteIDs(ids...))
	require.EqualValues(t, len(ids), d["deleted"], d)
}
