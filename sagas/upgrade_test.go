package sagas_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/service"
)

// An upgrade with a deletion in flight finishes it: the log holds, as the version before batches
// wrote it, a person's request and its first step (PermissionGroupsUnbound version 1, on the
// person's own subject), and no saga ran further. The new version's per-person saga picks it up
// there and the person ends deleted, each step recorded once, everything gone.
func TestUpgradeFinishesAPerPersonDeletionInFlight(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		cfg.NATSListen = freeAddr(t)
		var target *faultyTarget
		// As if the old version stopped here: nothing runs the deletion.
		env := startWith(t, cfg, &target, service.Without("person-deletion-saga", "batch-deletion-saga", "deletion-dispatcher"))
		a := api{t, env.HTTP.URL}
		a.createPerson("inflight")
		history, last, err := env.Svc.Log.Load(context.Background(), events.AggregatePerson, "inflight")
		require.NoError(t, err)
		created := history[0].Data.(events.PersonCreated)

		js := jstest.Connect(t, "nats://"+cfg.NATSListen)
		ctx := context.Background()
		// publish stores an event exactly as the version before batches encoded it.
		publish := func(aggregate, id, typ string, expected *uint64, data any) uint64 {
			payload, err := json.Marshal(data)
			require.NoError(t, err)
			m := nats.NewMsg(events.Subject("erasure", aggregate, id))
			m.Data = payload
			m.Header.Set(nats.MsgIdHdr, events.NewID())
			m.Header.Set(events.HeaderType, typ)
			m.Header.Set(events.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
			m.Header.Set(events.HeaderCorrelation, "upgrade")
			m.Header.Set(events.HeaderActor, "person-deletion-saga")
			var opts []jetstream.PublishOpt
			if expected != nil {
				opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*expected))
			}
			ack, err := js.PublishMsg(ctx, m, opts...)
			require.NoError(t, err)
			return ack.Sequence
		}
		publish("deletion", "d-old", "DeletionRequested.v1", nil, map[string]any{
			"deletion_id": "d-old", "chunk": 0, "offset": 0, "person_ids": []string{"inflight"}, "last": true, "total": 1})
		last = publish("person", "inflight", "PersonDeletionRequested.v1", &last, map[string]any{
			"person_id": "inflight", "deletion_id": "d-old", "permission_group_ids": created.PermissionGroupIDs, "faces": created.Faces})
		publish("person", "inflight", "PermissionGroupsUnbound.v1", &last, map[string]any{
			"person_id": "inflight", "deletion_id": "d-old", "permission_group_ids": created.PermissionGroupIDs})

		// The new version starts with every worker.
		env.Options = env.Options[1:] // retry and target (startWith puts them after the Without)
		target = nil                  // built again on the new service's stores
		env.Restart()
		a = api{t, env.HTTP.URL}
		d := a.waitDeletion("d-old")
		_, items := a.call("GET", "/v1/deletions/d-old/items", nil)
		require.Equal(t, 1.0, d["deleted"], "%v %v %v", d, items, ownEvents(t, env, "inflight"))
		require.Equal(t, []string{"PersonCreated", "PersonDeletionRequested", "PermissionGroupsUnbound", "FacesPurged", "PhotosPurged", "PersonDeleted"},
			ownEvents(t, env, "inflight"))
		requireGone(t, env, a, "inflight")
	})
}
