package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/internal/storeerr"
)

// Errors callers branch on.
var (
	// ErrConcurrency means the aggregate moved on since it was loaded: reload, decide again, retry.
	ErrConcurrency = errors.New("aggregate changed concurrently")
)

// StoreConfig describes the stream that holds the log.
type StoreConfig struct {
	Stream     string        // stream name, default "ERASURE"
	Prefix     string        // subject prefix, default "erasure"
	Replicas   int           // stream replicas, default 1
	Duplicates time.Duration // dedup window for Nats-Msg-Id, default 2m (it is held in memory)
	Memory     bool          // memory storage, for throwaway tests only
	// Atomic enables atomic batch appends (ADR-50): nats-server 2.12 or later only.
	Atomic bool
}

func (c *StoreConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = "ERASURE"
	}
	if c.Prefix == "" {
		c.Prefix = "erasure"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
}

// Store is the event log on a JetStream stream.
type Store struct {
	js     jetstream.JetStream
	cfg    StoreConfig
	stream jetstream.Stream
}

// NewStore returns a store on js; call Provision before use.
func NewStore(js jetstream.JetStream, cfg StoreConfig) *Store {
	cfg.setDefaults()
	return &Store{js: js, cfg: cfg}
}

// Provision creates the stream or updates it to the configuration erasure needs.
func (s *Store) Provision(ctx context.Context) error {
	storage := jetstream.FileStorage
	if s.cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	cfg := jetstream.StreamConfig{
		Name:               s.cfg.Stream,
		Description:        "erasure event log (source of truth)",
		Subjects:           []string{s.cfg.Prefix + ".>"},
		Retention:          jetstream.LimitsPolicy, // the log is kept forever: it is the audit trail
		Storage:            storage,
		Replicas:           s.cfg.Replicas,
		Duplicates:         s.cfg.Duplicates,
		Discard:            jetstream.DiscardOld,
		AllowDirect:        true,
		AllowAtomicPublish: s.cfg.Atomic,
	}
	// A cluster electing its JetStream leaders answers "temporarily unavailable" for a while
	// (a node restarted, a replica starting with the cluster): wait for it, within a bound.
	err := storeerr.WaitUp(ctx, provisionWait, func() error {
		st, err := s.ensureStream(ctx, cfg)
		s.stream = st
		return err
	})
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", s.cfg.Stream, err)
	}
	return nil
}

// ensureStream returns the stream, creating it, or updating it only when its configuration
// differs from cfg. Replicas start one after another against one stream: an update of a stream
// whose consumers another replica is creating at that moment races inside nats-server 2.15
// (fileStore.UpdateConfig against ConsumerStore, seen by the race detector), and an update
// that changes nothing is no reason to take that chance.
func (s *Store) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, cfg.Name)
	if err == nil && sameStreamConfig(st.CachedInfo().Config, cfg) {
		return st, nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	return s.js.CreateOrUpdateStream(ctx, cfg)
}

// sameStreamConfig reports whether have already is what want asks for, in the fields erasure sets.
func sameStreamConfig(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage &&
		max(have.Replicas, 1) == max(want.Replicas, 1) &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates) &&
		have.Discard == want.Discard && have.AllowDirect == want.AllowDirect &&
		have.AllowAtomicPublish == want.AllowAtomicPublish
}

// provisionWait bounds how long Provision waits for a JetStream that is temporarily unavailable.
const provisionWait = 30 * time.Second

// Subject returns the subject of an aggregate instance.
func (s *Store) Subject(aggregate, id string) string {
	return events.Subject(s.cfg.Prefix, aggregate, id)
}

// Append stores e on its aggregate's subject if the subject's last sequence is still expected
// (0: the subject has no events yet). It returns the new event's stream sequence. A retry of the
// same envelope (same ID) within the Duplicates window is stored once and returns the first sequence.
func (s *Store) Append(ctx context.Context, expected uint64, e events.Envelope) (uint64, error) {
	subject := s.Subject(e.Aggregate, e.AggregateID)
	m, err := Encode(subject, e)
	if err != nil {
		return 0, err
	}
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(expected))
	if err != nil {
		if isWrongLastSequence(err) {
			if seq, ok := s.storedAfter(ctx, subject, expected, e.ID); ok {
				return seq, nil
			}
			return 0, fmt.Errorf("append %s to %s: %w", e.Type, subject, ErrConcurrency)
		}
		return 0, fmt.Errorf("append %s to %s: %w", e.Type, subject, err)
	}
	return ack.Sequence, nil
}

// storedAfter reports whether the event that followed expected on subject is the one with id:
// the server checks the expected sequence before the message id, so a retried append whose
// first attempt was stored looks like a conflict. It is not: it is already done.
func (s *Store) storedAfter(ctx context.Context, subject string, expected uint64, id string) (uint64, bool) {
	raw, err := s.stream.GetMsg(ctx, expected+1, jetstream.WithGetMsgSubject(subject))
	if err != nil || raw.Header.Get(nats.MsgIdHdr) != id {
		return 0, false
	}
	return raw.Sequence, true
}

// Pending is one append of a batch.
type Pending struct {
	Expected uint64
	Event    events.Envelope
}

// AppendAsync publishes many appends without waiting for each acknowledgement in turn, then
// waits for all. Each append keeps its own expected-sequence check. The result holds, per
// append, the stored sequence or the error.
func (s *Store) AppendAsync(ctx context.Context, batch []Pending) ([]uint64, []error) {
	seqs := make([]uint64, len(batch))
	errs := make([]error, len(batch))
	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, p := range batch {
		subject := s.Subject(p.Event.Aggregate, p.Event.AggregateID)
		m, err := Encode(subject, p.Event)
		if err != nil {
			errs[i] = err
			continue
		}
		f, err := s.js.PublishMsgAsync(m, jetstream.WithExpectLastSequencePerSubject(p.Expected))
		if err != nil {
			errs[i] = fmt.Errorf("append %s to %s: %w", p.Event.Type, subject, err)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			if isWrongLastSequence(err) {
				subject := s.Subject(batch[i].Event.Aggregate, batch[i].Event.AggregateID)
				if seq, ok := s.storedAfter(ctx, subject, batch[i].Expected, batch[i].Event.ID); ok {
					seqs[i] = seq
					continue
				}
				err = ErrConcurrency
			}
			errs[i] = fmt.Errorf("append %s: %w", batch[i].Event.Type, err)
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return seqs, errs
}

// Load returns an aggregate instance's history, oldest first, and the sequence of its last event
// (0 when it has none), which is what the next Append expects.
func (s *Store) Load(ctx context.Context, aggregate, id string) ([]events.Recorded, uint64, error) {
	subject := s.Subject(aggregate, id)
	var (
		history []events.Recorded
		last    uint64
	)
	// Next-by-subject gets work on every server from 2.9 and cost one round trip per event;
	// an aggregate's history is a handful of events.
	for seq := uint64(1); ; {
		raw, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return history, last, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", subject, err)
		}
		r, err := DecodeMsg(raw.Subject, raw.Header, raw.Data, raw.Sequence)
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: %w", subject, err)
		}
		history = append(history, r)
		last = raw.Sequence
		seq = raw.Sequence + 1
	}
}

// LastSequence returns the stream's last sequence: everything up to it is in the log.
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// FollowOption narrows what Follow reads.
type FollowOption func(*followOptions)

type followOptions struct {
	subjects []string
	// headersOnly: the messages come without their data (ReadTypes).
	headersOnly bool
	// toEnd: the reading ends with the last message there was when it began (ReadTypes).
	toEnd bool
}

// FollowSubjects makes Follow read only the events on these subjects (NATS wildcards allowed,
// such as Subject(prefix, AggregatePerson, "*")): the server skips the rest, so a follower
// that needs a few subjects does not read the whole log. A server older than 2.10 cannot
// filter on several subjects; Follow then reads every subject, which is correct, only slower.
func FollowSubjects(subjects ...string) FollowOption {
	return func(o *followOptions) { o.subjects = subjects }
}

// Follow delivers the log from sequence from (inclusive) in order, in batches of at most max
// events, to fn until ctx ends or fn fails. A batch holds what is available without waiting, so
// a quiet log still delivers each event promptly. Its consumer is removed when it returns.
func (s *Store) Follow(ctx context.Context, from uint64, max int, fn func(context.Context, []events.Recorded) error, opts ...FollowOption) error {
	var o followOptions
	for _, opt := range opts {
		opt(&o)
	}
	batch := make([]events.Recorded, 0, max)
	return s.pull(ctx, from, max, o, func(ctx context.Context, ms []jetstream.Msg) error {
		batch = batch[:0]
		for _, m := range ms {
			r, err := decodeJS(m)
			if err != nil {
				return err
			}
			batch = append(batch, r)
		}
		return fn(ctx, batch)
	})
}

// pull gives fn the messages of an ordered consumer from sequence from, in order, in batches of
// at most max, each what is available without waiting, until ctx ends or fn fails (or, with
// o.toEnd, the last message there was when it began is given). Its consumer is removed when it
// returns.
func (s *Store) pull(ctx context.Context, from uint64, max int, o followOptions, fn func(context.Context, []jetstream.Msg) error) error {
	if from == 0 {
		from = 1
	}
	// Ends the fetching goroutine when pull returns for any reason, not only when the
	// caller's ctx ends: a caller that follows again after fn failed must not leak it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cons, err := s.orderedConsumer(ctx, from, o)
	if err != nil {
		return fmt.Errorf("follow from %d: %w", from, err)
	}
	if ci := cons.CachedInfo(); o.toEnd && ci != nil && ci.NumPending == 0 {
		_ = s.deleteConsumer(ctx, ci.Name)
		return nil
	}
	// nats.go's iterator now and then stops pulling until it notices two missed heartbeats
	// (10s with the ordered consumer's default; seen under load): a short heartbeat bounds that
	// stall, which a write waiting for the read model would otherwise feel.
	it, err := cons.Messages(jetstream.PullMaxMessages(max), jetstream.PullHeartbeat(followHeartbeat))
	if err != nil {
		return fmt.Errorf("follow from %d: %w", from, err)
	}
	msgs := make(chan jetstream.Msg, max)
	fetchErr := make(chan error, 1)
	fetched := make(chan struct{}) // closed when the fetching goroutine has returned
	go func() {
		defer close(fetched)
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					fetchErr <- err
				}
				return
			}
			delivered.Add(1)
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		it.Stop()
		cancel()
		// An ordered consumer outlives its client by its inactivity threshold (5 minutes) unless
		// it is deleted: every follower that came and went (a live-progress stream per HTTP
		// client) would hold one on the server meanwhile. The fetching goroutine may be
		// replacing the consumer (nats.go resets it on a missed heartbeat), so the current one
		// is known only once that goroutine has returned.
		select {
		case <-fetched:
		case <-time.After(consumerDeleteWait):
		}
		if ci := cons.CachedInfo(); ci != nil {
			_ = s.deleteConsumer(ctx, ci.Name) // best effort: the threshold removes it otherwise
		}
	}()
	batch := make([]jetstream.Msg, 0, max)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fetchErr:
			return fmt.Errorf("follow: %w", err)
		case m, ok := <-msgs:
			if !ok {
				return ctx.Err()
			}
			batch = append(batch[:0], m)
		drain:
			for len(batch) < max {
				select {
				case m, ok := <-msgs:
					if !ok {
						break drain
					}
					batch = append(batch, m)
				default:
					break drain
				}
			}
			if err := fn(ctx, batch); err != nil {
				return err
			}
			if o.toEnd && lastPending(batch) == 0 {
				return nil
			}
		}
	}
}

// lastPending is how many messages the consumer had left after the batch's last.
func lastPending(batch []jetstream.Msg) uint64 {
	md, err := batch[len(batch)-1].Metadata()
	if err != nil {
		return 1 // unknown: read on
	}
	return md.NumPending
}

// deleteConsumer removes a consumer of the stream, within consumerDeleteWait even when ctx has
// ended.
func (s *Store) deleteConsumer(ctx context.Context, name string) error {
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), consumerDeleteWait)
	defer dcancel()
	return s.stream.DeleteConsumer(dctx, name)
}

// followHeartbeat is the idle heartbeat Follow asks the server for while it waits for events.
const followHeartbeat = time.Second

// consumerCreateWait and consumerDeleteWait bound the creation and the removal of a follower's
// consumer (nats.go's ordered consumer allows 10 s for a creation).
const (
	consumerCreateWait = 10 * time.Second
	consumerDeleteWait = 5 * time.Second
)

// orderedConsumer creates pull's consumer from sequence from, as o says (subjects, headers only).
//
// A cluster electing its JetStream leaders answers "temporarily unavailable" for a while (a
// healed partition, a node restarted): creation waits for it, within provisionWait, as Provision
// does. Provision alone does not cover it: a stream that already has erasure's configuration is
// not updated, so opening the log can succeed while the cluster still elects.
func (s *Store) orderedConsumer(ctx context.Context, from uint64, o followOptions) (cons jetstream.Consumer, err error) {
	err = storeerr.WaitUp(ctx, provisionWait, func() error {
		cons, err = s.createOrderedConsumer(ctx, from, o)
		return err
	})
	return cons, err
}

// createOrderedConsumer is one attempt of orderedConsumer.
func (s *Store) createOrderedConsumer(ctx context.Context, from uint64, o followOptions) (jetstream.Consumer, error) {
	prefix := events.NewID() // names the consumer, so that one whose creation went unanswered can be removed
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
		FilterSubjects: o.subjects,
		NamePrefix:     prefix,
		HeadersOnly:    o.headersOnly,
	}
	// Created whether or not the caller still waits (its HTTP client may leave meanwhile): the
	// server would create it all the same, and only a consumer whose creation was answered is
	// removed for sure when Follow returns.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), consumerCreateWait)
	defer cancel()
	cons, err := s.stream.OrderedConsumer(cctx, cfg)
	if errors.Is(err, jetstream.ErrConsumerMultipleFilterSubjectsNotSupported) {
		// nats-server before 2.10 ignored the filters and created the consumer on every
		// subject: remove it, and follow every subject instead.
		_ = s.stream.DeleteConsumer(cctx, prefix+"_1")
		cfg.FilterSubjects, cfg.NamePrefix = nil, events.NewID()
		cons, err = s.stream.OrderedConsumer(cctx, cfg)
	}
	if err != nil {
		// A creation that timed out may still happen on the server: remove it by name.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), consumerDeleteWait)
		defer dcancel()
		_ = s.stream.DeleteConsumer(dctx, cfg.NamePrefix+"_1")
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		_ = s.stream.DeleteConsumer(cctx, cons.CachedInfo().Name)
		return nil, err
	}
	return cons, nil
}

func decodeJS(m jetstream.Msg) (events.Recorded, error) {
	md, err := m.Metadata()
	if err != nil {
		return events.Recorded{}, fmt.Errorf("message metadata: %w", err)
	}
	return DecodeMsg(m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream)
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}
