package projections_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

// publishFixture writes a committed log fixture (events/testdata) into a fresh stream as an
// earlier erasure wrote it: payloads and type headers exactly as in the file.
func publishFixture(t *testing.T, path string) (*eventlog.Store, uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var fixture []struct {
		EventID       string          `json:"event_id"`
		Aggregate     string          `json:"aggregate"`
		AggregateID   string          `json:"aggregate_id"`
		Type          string          `json:"type"`
		Time          string          `json:"time"`
		CorrelationID string          `json:"correlation_id"`
		Actor         string          `json:"actor"`
		Data          json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &fixture))
	js := jstest.New(t, jstest.Options{})
	s := jstest.Store(t, js, eventlog.StoreConfig{})
	var last uint64
	for _, f := range fixture {
		m := nats.NewMsg(events.Subject("erasure", f.Aggregate, f.AggregateID))
		m.Data = f.Data
		m.Header.Set(nats.MsgIdHdr, f.EventID)
		m.Header.Set(events.HeaderType, f.Type)
		m.Header.Set(events.HeaderTime, f.Time)
		m.Header.Set(events.HeaderCorrelation, f.CorrelationID)
		m.Header.Set(events.HeaderActor, f.Actor)
		ack, err := js.PublishMsg(context.Background(), m)
		require.NoError(t, err)
		last = ack.Sequence
	}
	return s, last
}

// A log written with older event versions replays, through the upcasters, into exactly the read
// models its current form gives: every table, the audit trail's hashes included.
func TestUpcastFixturesReplay(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		oldLog, last := publishFixture(t, "../events/testdata/log_v0.json")
		curLog, curLast := publishFixture(t, "../events/testdata/log_per_person.json")
		require.Equal(t, curLast, last)

		dsnOld := newDSN(t, dialect)
		fromOld := openDBs(t, dialect, dsnOld)
		allRunner(t, fromOld.ReadModel, oldLog, 4).waitFor(t, last)
		fromCur := openDBs(t, dialect, newDSN(t, dialect))
		allRunner(t, fromCur.ReadModel, curLog, 4).waitFor(t, last)
		got := modelDump(t, fromOld.ReadModel)
		require.Equal(t, modelDump(t, fromCur.ReadModel), got)

		// And what that is, read as a user would.
		db := fromOld.ReadModel
		require.Equal(t, []string{"p1:g1", "p3:g1"}, pairs(t, db, `SELECT person_id, group_id FROM memberships`))
		require.Equal(t, []string{"p1:f1", "p1:f2"}, pairs(t, db, `SELECT person_id, face_id FROM faces`))
		require.Equal(t, []string{"p1:deleting", "p3:active"}, pairs(t, db, `SELECT person_id, state FROM persons`))
		require.Equal(t, []string{"p3:door-1"}, pairs(t, db, `SELECT person_id, permission_group_id FROM permission_bindings`))
		require.Equal(t, []string{"ghost:ID_NOT_FOUND", "p1:STEP_FAILED", "p2:"},
			pairs(t, db, `SELECT person_id, error_code FROM deletion_items`))
		require.Equal(t, []string{"d1:1"}, pairs(t, db, `SELECT deletion_id, fully_recorded FROM deletions`))
		require.Len(t, got["audit_log"], int(last))

		// A replay of the old log rebuilds the same.
		r := allRunner(t, fromOld.ReadModel, oldLog, 4)
		_, err := r.Rebuild(context.Background(), rebuildConfig(dialect, dsnOld))
		require.NoError(t, err)
		require.Equal(t, got, modelDump(t, fromOld.ReadModel))
	})
}
