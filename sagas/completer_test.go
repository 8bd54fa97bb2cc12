package sagas_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
	"github.com/erasure-dev/erasure/sagas"
)

// progressAt is a read side that lists one request as completable at a version it is told.
type progressAt struct {
	mu      sync.Mutex
	counts  sagas.DeletionCounts
	listed  bool
	queries int
}

func (p *progressAt) Completable(context.Context) ([]sagas.DeletionCounts, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries++
	if !p.listed {
		return nil, nil
	}
	return []sagas.DeletionCounts{p.counts}, nil
}

func (p *progressAt) askedTwiceMore() func() bool {
	p.mu.Lock()
	from := p.queries
	p.mu.Unlock()
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.queries >= from+2
	}
}

// The completer records DeletionCompleted exactly once: at the version the read side gives, or
// decided on the history when that version is stale or unknown, and not again while the read
// side still lists the request because it has not applied the completion yet.
func TestCompleterCompletesOnceWhateverTheReadSideKnows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version func(last uint64) uint64
	}{
		{"current version", func(last uint64) uint64 { return last }},
		{"stale version", func(last uint64) uint64 { return last - 1 }},
		{"unknown version", func(uint64) uint64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := jstest.Store(t, jstest.New(t, jstest.Options{}), eventlog.StoreConfig{})
			meta := events.Meta{CorrelationID: "d1", Actor: "test"}
			last, err := log.AppendDecided(ctx, meta, events.AggregateDeletion, "d1", 0, []any{
				events.DeletionRequested{DeletionID: "d1", Total: 2, PersonIDs: []string{"p1"}},
				events.DeletionRequested{DeletionID: "d1", Chunk: 1, Last: true, Total: 2, PersonIDs: []string{"p2"}},
			})
			require.NoError(t, err)

			progress := &progressAt{listed: true, counts: sagas.DeletionCounts{DeletionID: "d1", Total: 2, Deleted: 2, Version: tc.version(last)}}
			c := sagas.NewDeletionCompleter(log, progress, nil)
			c.Interval = 5 * time.Millisecond
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()

			completed := func() int {
				history, _, err := log.Load(ctx, events.AggregateDeletion, "d1")
				require.NoError(t, err)
				n := 0
				for _, r := range history {
					if e, ok := r.Data.(events.DeletionCompleted); ok {
						require.Equal(t, events.DeletionCompleted{DeletionID: "d1", Total: 2, Deleted: 2}, e)
						n++
					}
				}
				return n
			}
			require.Eventually(t, func() bool { return completed() == 1 }, 5*time.Second, 5*time.Millisecond)
			// The read side lags: it still lists the request, at the version before the completion.
			require.Eventually(t, progress.askedTwiceMore(), 5*time.Second, time.Millisecond)
			require.Equal(t, 1, completed(), "completed once, though still listed")

			cancel()
			require.NoError(t, <-done)
		})
	}
}
