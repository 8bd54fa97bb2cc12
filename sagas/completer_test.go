package sagas_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/sagas"
)

// progressAt is a read side that lists one request as completable at the version it is given,
// as a read model that has not applied the completion yet keeps doing.
type progressAt struct {
	mu      sync.Mutex
	counts  sagas.DeletionCounts
	queries int
}

func (p *progressAt) Completable(context.Context) ([]sagas.DeletionCounts, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries++
	return []sagas.DeletionCounts{p.counts}, nil
}

func (p *progressAt) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queries
}

// historyReads returns a count of the next-by-subject reads of the log (Load's, one an event)
// made through nc so far, seen by listening to the server's get requests.
func historyReads(t *testing.T, nc *nats.Conn) func() int {
	ch := make(chan *nats.Msg, 4096)
	for _, subject := range []string{"$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>"} {
		sub, err := nc.ChanSubscribe(subject, ch)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	require.NoError(t, nc.Flush())
	n := 0
	return func() int {
		// The server answers the flush after it has passed on every request sent before it,
		// and a channel subscription queues each as the connection reads it.
		require.NoError(t, nc.Flush())
		for {
			select {
			case m := <-ch:
				if bytes.Contains(m.Data, []byte("next_by_subj")) {
					n++
				}
			default:
				return n
			}
		}
	}
}

// The completer records DeletionCompleted exactly once: at the version the read side gives,
// without reading the request's history, or decided on the history when that version is stale
// or unknown; and, while the read side still lists the request because it has not applied the
// completion yet, it neither completes it again nor reads its history to find that out.
func TestCompleterCompletesOnceWithoutReadingTheHistory(t *testing.T) {
	for _, tc := range []struct {
		name         string
		version      func(last uint64) uint64
		readsHistory bool
	}{
		{"current version", func(last uint64) uint64 { return last }, false},
		{"stale version", func(last uint64) uint64 { return last - 1 }, true},
		{"unknown version", func(uint64) uint64 { return 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			js := jstest.New(t, jstest.Options{})
			log := jstest.Store(t, js, eventlog.StoreConfig{})
			meta := events.Meta{CorrelationID: "d1", Actor: "test"}
			last, err := log.AppendDecided(ctx, meta, events.AggregateDeletion, "d1", 0, []any{
				events.DeletionRequested{DeletionID: "d1", Total: 2, PersonIDs: []string{"p1"}},
				events.DeletionRequested{DeletionID: "d1", Chunk: 1, Last: true, Total: 2, PersonIDs: []string{"p2"}},
			})
			require.NoError(t, err)
			reads := historyReads(t, js.Conn())

			progress := &progressAt{counts: sagas.DeletionCounts{DeletionID: "d1", Total: 2, Deleted: 2, Version: tc.version(last)}}
			c := sagas.NewDeletionCompleter(log, progress, nil)
			c.Interval = 5 * time.Millisecond
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()

			// Until the completer has been asked twice after the completion was stored (seen by
			// the request's last sequence, which reads no history).
			var asked int
			require.Eventually(t, func() bool {
				if seq, err := log.Last(context.Background(), events.AggregateDeletion, "d1"); err == nil && seq > last && asked == 0 {
					asked = progress.asked()
				}
				return asked > 0 && progress.asked() >= asked+2
			}, 5*time.Second, 5*time.Millisecond)
			cancel()
			require.NoError(t, <-done)
			byCompleter := reads()

			history, _, err := log.Load(context.Background(), events.AggregateDeletion, "d1")
			require.NoError(t, err)
			require.Positive(t, reads()-byCompleter, "the count sees history reads")
			var completions []events.DeletionCompleted
			for _, r := range history {
				if e, ok := r.Data.(events.DeletionCompleted); ok {
					completions = append(completions, e)
				}
			}
			require.Equal(t, []events.DeletionCompleted{{DeletionID: "d1", Total: 2, Deleted: 2}}, completions, "completed once, though still listed")
			if tc.readsHistory {
				require.Positive(t, byCompleter, "decided on the history")
			} else {
				require.Zero(t, byCompleter, "decided on the snapshot alone, and not read again while listed")
			}
		})
	}
}
