package eventlog_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/testenv/jstest"
)

func newStore(t *testing.T) *eventlog.Store {
	t.Helper()
	return newStoreOn(t, newJetStream(t), eventlog.StoreConfig{})
}

// newJetStream starts an embedded nats-server for the test and returns a JetStream client of it.
func newJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	return jstest.New(t, jstest.Options{Durable: true})
}

// newStoreOn provisions a store of cfg on js.
func newStoreOn(t *testing.T, js jetstream.JetStream, cfg eventlog.StoreConfig) *eventlog.Store {
	t.Helper()
	s := eventlog.NewStore(js, cfg)
	require.NoError(t, s.Provision(context.Background()))
	return s
}

// appendPersons appends the registration of persons p0..p(n-1) and returns their sequences.
func appendPersons(ctx context.Context, t *testing.T, s *eventlog.Store, n int) []uint64 {
	t.Helper()
	batch := make([]eventlog.Pending, n)
	for i := range batch {
		id := "p" + events.SeqString(uint64(i))
		batch[i] = eventlog.Pending{Event: mustEvent(t, id, events.PersonCreated{PersonID: id})}
	}
	seqs, errs := s.AppendAsync(ctx, batch)
	for _, err := range errs {
		require.NoError(t, err)
	}
	return seqs
}

func mustEvent(t *testing.T, id string, data any) events.Envelope {
	t.Helper()
	e, err := events.New(events.AggregatePerson, id, data, events.Meta{CorrelationID: "req-1", Actor: "test"})
	require.NoError(t, err)
	return e
}

func TestAppendAndLoadRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	created := events.PersonCreated{PersonID: "p1", Name: "sealed", GroupIDs: []string{"g1"}, Faces: []events.Face{{FaceID: "f1", PhotoKey: "k1"}}}
	seq1, err := s.Append(ctx, 0, mustEvent(t, "p1", created))
	require.NoError(t, err)
	seq2, err := s.Append(ctx, seq1, mustEvent(t, "p1", events.PersonAddedToGroup{PersonID: "p1", GroupID: "g2"}))
	require.NoError(t, err)
	_, err = s.Append(ctx, 0, mustEvent(t, "p2", events.PersonCreated{PersonID: "p2"}))
	require.NoError(t, err)

	history, last, err := s.Load(ctx, events.AggregatePerson, "p1")
	require.NoError(t, err)
	require.Equal(t, seq2, last)
	require.Len(t, history, 2)
	require.Equal(t, created, history[0].Data)
	require.Equal(t, "PersonCreated", history[0].Type)
	require.Equal(t, 1, history[0].SchemaVersion)
	require.Equal(t, "p1", history[0].AggregateID)
	require.Equal(t, "req-1", history[0].CorrelationID)
	require.Equal(t, events.PersonAddedToGroup{PersonID: "p1", GroupID: "g2"}, history[1].Data)

	none, last, err := s.Load(ctx, events.AggregatePerson, "nobody")
	require.NoError(t, err)
	require.Empty(t, none)
	require.Zero(t, last)

	// Last tells what Load's last does, in one read.
	for id, want := range map[string]uint64{"p1": seq2, "nobody": 0} {
		got, err := s.Last(ctx, events.AggregatePerson, id)
		require.NoError(t, err)
		require.Equal(t, want, got, id)
	}
}

// AppendDecided appends at the sequence given, and refuses once the instance moved past it.
func TestAppendDecidedExpectsTheSnapshotsSequence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	meta := events.Meta{CorrelationID: "req-1", Actor: "test"}
	seq1, err := s.AppendDecided(ctx, meta, events.AggregatePerson, "p1", 0, []any{events.PersonCreated{PersonID: "p1"}})
	require.NoError(t, err)
	seq2, err := s.AppendDecided(ctx, meta, events.AggregatePerson, "p1", seq1,
		[]any{events.PersonAddedToGroup{PersonID: "p1", GroupID: "g1"}, events.PersonAddedToGroup{PersonID: "p1", GroupID: "g2"}})
	require.NoError(t, err)
	_, err = s.AppendDecided(ctx, meta, events.AggregatePerson, "p1", seq1, []any{events.PersonAddedToGroup{PersonID: "p1", GroupID: "g3"}})
	require.ErrorIs(t, err, eventlog.ErrConcurrency, "a stale snapshot is refused")
	history, last, err := s.Load(ctx, events.AggregatePerson, "p1")
	require.NoError(t, err)
	require.Equal(t, seq2, last)
	require.Len(t, history, 3, "in order, nothing of the refused decision")
}

func TestConcurrentAppendsExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	seq, err := s.Append(ctx, 0, mustEvent(t, "p1", events.PersonCreated{PersonID: "p1"}))
	require.NoError(t, err)

	const writers = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		wins     int
		conflict int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, seq, mustEvent(t, "p1", events.PersonAddedToGroup{PersonID: "p1", GroupID: string(rune('a' + i))}))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, eventlog.ErrConcurrency):
				conflict++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, writers-1, conflict)
	history, _, err := s.Load(ctx, events.AggregatePerson, "p1")
	require.NoError(t, err)
	require.Len(t, history, 2)
}

func TestRetriedAppendIsStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	e := mustEvent(t, "p1", events.PersonCreated{PersonID: "p1"})
	first, err := s.Append(ctx, 0, e)
	require.NoError(t, err)
	// The same envelope again, as a client would resend after a lost acknowledgement.
	again, err := s.Append(ctx, 0, e)
	require.NoError(t, err)
	require.Equal(t, first, again)
	history, _, err := s.Load(ctx, events.AggregatePerson, "p1")
	require.NoError(t, err)
	require.Len(t, history, 1)
	last, err := s.LastSequence(ctx)
	require.NoError(t, err)
	require.Equal(t, first, last)
}

func TestFollowDeliversInOrderFromSequence(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newStore(t)
	seqs := appendPersons(ctx, t, s, 50)
	var got []uint64
	err := s.Follow(ctx, 11, 16, func(_ context.Context, rs []events.Recorded) error {
		require.LessOrEqual(t, len(rs), 16)
		for _, r := range rs {
			got = append(got, r.Seq)
		}
		if len(got) >= 40 {
			return errStop
		}
		return nil
	})
	require.ErrorIs(t, err, errStop)
	require.Len(t, got, 40)
	for i, seq := range got {
		require.Equal(t, uint64(11+i), seq)
	}
	require.Contains(t, seqs, uint64(50))
}

var errStop = errors.New("stop")

// UpdateDeletionAt trusts a snapshot only as far as the log agrees with it: a decision to
// append is appended at the snapshot's version; a refusal or a no-op stands while that version
// is the request's last sequence; past it, the history decides.
func TestUpdateDeletionAtDecidesOnTheHistoryWhenTheSnapshotIsStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	meta := events.Meta{CorrelationID: "req-1", Actor: "test"}
	cancel := func(d *domain.Deletion) ([]any, error) { return d.Decide(domain.CancelDeletion{}) }
	recorded := domain.DeletionSnapshot{Recorded: true}
	request := func(id string) uint64 {
		seq, err := s.AppendDecided(ctx, meta, events.AggregateDeletion, id, 0,
			[]any{events.DeletionRequested{DeletionID: id, Last: true, Total: 1, PersonIDs: []string{"p1"}}})
		require.NoError(t, err)
		return seq
	}
	types := func(id string) []string {
		history, _, err := s.Load(ctx, events.AggregateDeletion, id)
		require.NoError(t, err)
		var out []string
		for _, r := range history {
			out = append(out, r.Type)
		}
		return out
	}

	// Current: cancelled at the snapshot's version; cancelling again on the now stale snapshot
	// is the history's no-op, not a second cancellation.
	v := request("d1")
	seq, err := s.UpdateDeletionAt(ctx, meta, "d1", recorded, v, cancel)
	require.NoError(t, err)
	require.Greater(t, seq, v)
	again, err := s.UpdateDeletionAt(ctx, meta, "d1", recorded, v, cancel)
	require.NoError(t, err)
	require.Equal(t, seq, again)
	require.Equal(t, []string{"DeletionRequested", "DeletionCancelled"}, types("d1"))

	// A refusal on a current snapshot stands; on a stale one the history decides: a request the
	// snapshot shows completed, but whose completion the log does not have, is cancelled.
	v = request("d2")
	_, err = s.UpdateDeletionAt(ctx, meta, "d2", domain.DeletionSnapshot{Recorded: true, Completed: true}, v, cancel)
	require.ErrorIs(t, err, domain.ErrDeletionFinished, "the snapshot is the request as it stands")
	_, err = s.UpdateDeletionAt(ctx, meta, "d2", domain.DeletionSnapshot{Recorded: true, Completed: true}, v-1, cancel)
	require.NoError(t, err, "a stale snapshot's refusal is decided again on the history")
	require.Equal(t, []string{"DeletionRequested", "DeletionCancelled"}, types("d2"))

	// Unknown version: the history alone.
	request("d3")
	_, err = s.UpdateDeletionAt(ctx, meta, "d3", domain.DeletionSnapshot{}, 0, cancel)
	require.NoError(t, err)
	require.Equal(t, []string{"DeletionRequested", "DeletionCancelled"}, types("d3"))
}
