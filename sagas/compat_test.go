package sagas_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv"
)

// debianNATS is the NATS server .ci/run starts (Debian's package, 2.9: no atomic batches).
const debianNATS = "nats://127.0.0.1:4222"

// On a server without atomic batches (NATS 2.9, the compatibility mode) a batch cannot be
// opened atomically with its persons, so every person takes the per-person path: every
// guarantee holds, at lower speed. A bulk is deleted whole, each person's steps on its own
// subject, each once, and nothing is left.
func TestBulkOnAServerWithoutAtomicBatches(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("NATS 2.9 at %s is down: .ci/run starts it", debianNATS)
		}
		t.Skipf("no NATS server at %s (.ci/run starts Debian's)", debianNATS)
	}
	conn.Close()
	nc, err := nats.Connect(debianNATS)
	require.NoError(t, err)
	version := nc.ConnectedServerVersion()
	nc.Close()

	cfg := testenv.Config(t, "sqlite")
	cfg.NATSURL = debianNATS
	cfg.Stream = fmt.Sprintf("COMPAT_%d", time.Now().UnixNano()) // a stream of its own on the shared server
	var target *faultyTarget
	env := startWith(t, cfg, &target)
	t.Cleanup(func() { deleteStream(t, cfg.Stream) })
	var major, minor int
	_, err = fmt.Sscanf(version, "%d.%d", &major, &minor)
	require.NoError(t, err)
	require.Equal(t, major == 2 && minor < 12, !env.Svc.Log.Atomic(), "server %s", version)

	a := api{t, env.HTTP.URL}
	var ids []string
	for i := range 12 {
		ids = append(ids, fmt.Sprintf("c-%d", i))
		a.createPerson(ids[i])
	}
	deletionID := a.deleteIDs(ids...)
	d := a.waitDeletion(deletionID)
	require.Equal(t, float64(len(ids)), d["deleted"], d)
	// A request's last sequence read alone (an idempotency key's replay; the completer and
	// cancellations decide on the read model at it) is the one its history ends with here too.
	_, want, err := env.Svc.Log.Load(context.Background(), events.AggregateDeletion, deletionID)
	require.NoError(t, err)
	got, err := env.Svc.Log.Last(context.Background(), events.AggregateDeletion, deletionID)
	require.NoError(t, err)
	require.Equal(t, want, got)
	for _, id := range ids {
		if env.Svc.Log.Atomic() {
			require.Equal(t, fullSaga, personEvents(t, env, id))
		} else {
			require.Equal(t, fullSaga, ownEvents(t, env, id), "the person's own subject records its steps")
		}
		requireGone(t, env, a, id)
	}
	// A replay, which first reads how the persons' histories end through a consumer of headers
	// only, rebuilds the same read model.
	live := readModelDump(t, env.Svc.DBs.ReadModel)
	sum, err := env.Svc.Rebuild(context.Background())
	require.NoError(t, err)
	require.NotZero(t, sum.Events)
	require.Equal(t, live, readModelDump(t, env.Svc.DBs.ReadModel))
}

// readModelDump is every row of every table of a SQLite read model, sorted per table.
func readModelDump(t *testing.T, db *sqlx.DB) map[string][]string {
	t.Helper()
	var tables []string
	require.NoError(t, db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`))
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.Queryx(`SELECT * FROM ` + table)
		require.NoError(t, err)
		for rows.Next() {
			row, err := rows.SliceScan()
			require.NoError(t, err)
			out[table] = append(out[table], fmt.Sprint(row...))
		}
		require.NoError(t, rows.Err())
		slices.Sort(out[table])
	}
	return out
}

func deleteStream(t *testing.T, name string) {
	nc, err := nats.Connect(debianNATS)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	_ = js.DeleteStream(name)
}
