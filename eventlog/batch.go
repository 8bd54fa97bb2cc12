package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/events"
	"github.com/nats-io/nats.go"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// maxAtomicBatch is nats-server's limit on messages in one atomic batch (ADR-50).
const maxAtomicBatch = 1000

// AppendBatch stores many appends, each with its own expected-sequence check, paying one fsync
// per atomic batch instead of one per event. It needs nats-server 2.12+ (StoreConfig.Atomic);
// otherwise, and for any batch the server refuses as a whole (one stale aggregate aborts it),
// it falls back to AppendAsync, which reports each append's own outcome. Appends to one subject
// go in order.
func (s *Store) AppendBatch(ctx context.Context, batch []Pending) ([]uint64, []error) {
	if !s.cfg.Atomic || len(batch) < 2 {
		return s.AppendAsync(ctx, batch)
	}
	seqs := make([]uint64, len(batch))
	errs := make([]error, len(batch))
	for start := 0; start < len(batch); {
		// One expected-sequence check per subject per batch: cut a batch where a subject repeats.
		end, seen := start, map[string]bool{}
		for end < len(batch) && end-start < maxAtomicBatch {
			subj := s.Subject(batch[end].Event.Aggregate, batch[end].Event.AggregateID)
			if seen[subj] {
				break
			}
			seen[subj] = true
			end++
		}
		part := batch[start:end]
		partSeqs, err := s.publishAtomic(ctx, part)
		if err != nil {
			// Split and retry one by one: a stale aggregate, a message id already stored
			// (10201 means "already stored", not "lost") or a transient fault each get their
			// own answer there.
			partSeqs, partErrs := s.AppendAsync(ctx, part)
			copy(seqs[start:end], partSeqs)
			copy(errs[start:end], partErrs)
		} else {
			copy(seqs[start:end], partSeqs)
		}
		start = end
	}
	return seqs, errs
}

func (s *Store) publishAtomic(ctx context.Context, part []Pending) ([]uint64, error) {
	if len(part) == 1 {
		seq, err := s.Append(ctx, part[0].Expected, part[0].Event)
		return []uint64{seq}, err
	}
	msgs := make([]*nats.Msg, len(part))
	for i, p := range part {
		m, err := Encode(s.Subject(p.Event.Aggregate, p.Event.AggregateID), p.Event)
		if err != nil {
			return nil, err
		}
		// No Nats-Expected-Stream: the prefix's subjects belong to one stream, and the server
		// stores every header with the message, which each consumer then parses at every
		// delivery (six a person).
		m.Header.Set(nats.ExpectedLastSubjSeqHdr, events.SeqString(p.Expected))
		msgs[i] = m
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, s.js, msgs)
	if err != nil {
		return nil, fmt.Errorf("atomic batch of %d: %w", len(part), err)
	}
	if ack == nil || ack.BatchSize != uint64(len(part)) {
		return nil, errors.New("atomic batch: incomplete acknowledgement")
	}
	// An atomic batch is stored contiguously: its messages end at the acknowledged sequence.
	seqs := make([]uint64, len(part))
	for i := range part {
		seqs[i] = ack.Sequence - uint64(len(part)-1-i)
	}
	return seqs, nil
}

// ErrNotAtomic means the server cannot append atomic batches (nats-server before 2.12, or a
// stream without AllowAtomicPublish): callers take their one-by-one path.
var ErrNotAtomic = errors.New("atomic batches not available")

// MaxAtomicBatch is how many appends AppendAtomic takes at most.
const MaxAtomicBatch = maxAtomicBatch

// AppendAtomic stores every append of batch or none: each with its expected-sequence check (one
// per subject), in order, contiguously. Unlike AppendBatch it never falls back to appending one
// by one, because its callers rely on all-or-nothing (a batch's persons with the record that
// opens the batch). An error means nothing was stored, except where the message ids were
// already stored by an earlier attempt, which the callers detect by their expected sequences.
func (s *Store) AppendAtomic(ctx context.Context, batch []Pending) ([]uint64, error) {
	if !s.cfg.Atomic {
		return nil, ErrNotAtomic
	}
	if len(batch) > maxAtomicBatch {
		return nil, fmt.Errorf("atomic batch of %d: more than %d appends", len(batch), maxAtomicBatch)
	}
	seen := make(map[string]bool, len(batch))
	for _, p := range batch {
		subj := s.Subject(p.Event.Aggregate, p.Event.AggregateID)
		if seen[subj] {
			return nil, fmt.Errorf("atomic batch: %s twice", subj)
		}
		seen[subj] = true
	}
	seqs, err := s.publishAtomic(ctx, batch)
	if err != nil && isWrongLastSequence(err) {
		return nil, fmt.Errorf("%w: %w", ErrConcurrency, err)
	}
	return seqs, err
}

// Atomic reports whether the store appends atomic batches.
func (s *Store) Atomic() bool { return s.cfg.Atomic }
