package app

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/domain"
	"github.com/erasure-dev/erasure/eventlog"
	"github.com/erasure-dev/erasure/events"
	"github.com/erasure-dev/erasure/keys"
	"github.com/erasure-dev/erasure/projections"
	"github.com/erasure-dev/erasure/receipts"
)

// ErrNoSigner means the service was started without a receipt signing key.
var ErrNoSigner = errors.New("no receipt signing key configured")

// Audit is what erasure can prove of itself: the audit trail and its verification against
// the log, a person's registration as of a moment, signed deletion receipts, and the scan for
// anything left of deleted persons. Its methods live in audit.go and verify.go. It changes
// nothing: it reads the log, the read side, the key store (a name as it was, whether a key is
// still held) and the downstream stores' leftovers.
type Audit struct {
	log      *eventlog.Store
	reads    projections.Queries
	keys     *keys.Store
	stores   leftoverScanner
	receipts receiptSigning // set by SetReceiptSigner
}

type receiptSigning struct {
	signer *receipts.Signer
	stream string
}

// SetReceiptSigner sets the key that signs deletion receipts and the name of the log they cite.
func (au *Audit) SetReceiptSigner(s *receipts.Signer, stream string) {
	au.receipts = receiptSigning{signer: s, stream: stream}
}

// AuditEntries returns the audit trail's entries matching f, oldest first.
func (au *Audit) AuditEntries(ctx context.Context, f projections.AuditFilter) ([]projections.AuditEntry, error) {
	if f.PersonID != "" {
		if err := domain.ValidateID(f.PersonID); err != nil {
			return nil, fmt.Errorf("person_id: %w", err)
		}
	}
	return au.reads.AuditEntries(ctx, f)
}

// VerifyAudit recomputes the audit chain from the log and compares it with the stored trail.
func (au *Audit) VerifyAudit(ctx context.Context) (projections.AuditVerification, error) {
	return au.reads.VerifyAudit(ctx, au.log)
}

// PersonAsOf is what the registry held for a person at a moment, rebuilt from the log.
type PersonAsOf struct {
	PersonID           string    `json:"person_id"`
	AsOf               time.Time `json:"as_of"`
	State              string    `json:"state"` // absent, active, deleting, deleted
	GroupIDs           []string  `json:"group_ids"`
	FaceCount          int       `json:"face_count"`
	PermissionGroupIDs []string  `json:"permission_group_ids"`
	// Name is the name the person had then, if it can still be read; Erased says it cannot:
	// the person was deleted since (its key destroyed), and it is never decrypted.
	Name   *string `json:"name"`
	Erased bool    `json:"name_erased"`
	// Seq is the stream sequence of the person's last event at that moment (0: none).
	Seq uint64 `json:"seq"`
}

// PersonAt replays the person's events with a time at or before t: its own, and the steps of
// its batches that list it.
func (au *Audit) PersonAt(ctx context.Context, personID string, t time.Time) (PersonAsOf, error) {
	if err := domain.ValidateID(personID); err != nil {
		return PersonAsOf{}, fmt.Errorf("person_id: %w", err)
	}
	history, _, err := au.log.Load(ctx, events.AggregatePerson, personID)
	if err != nil {
		return PersonAsOf{}, err
	}
	if history, err = withBatchSteps(ctx, au.log.Load, personID, history); err != nil {
		return PersonAsOf{}, err
	}
	var (
		then    []any
		seq     uint64
		sealed  events.Sealed
		created = -1 // index of the incarnation's PersonCreated
	)
	for i, r := range history {
		if r.Time.After(t) {
			break
		}
		then = append(then, r.Data)
		seq = r.Seq
		if c, ok := r.Data.(events.PersonCreated); ok {
			sealed, created = c.Name, i
		}
	}
	p := domain.PersonFromHistory(personID, then)
	out := PersonAsOf{PersonID: personID, AsOf: t.UTC(), State: string(p.Status()), Seq: seq,
		GroupIDs: nonNilIDs(p.GroupIDs()), PermissionGroupIDs: nonNilIDs(p.PermissionGroupIDs()), FaceCount: len(p.Faces())}
	if out.State == "" {
		out.State = "absent"
	}
	slices.Sort(out.GroupIDs)
	slices.Sort(out.PermissionGroupIDs)
	if !p.Exists() || created < 0 {
		return out, nil
	}
	// The incarnation alive at t must still be alive now for its name to be readable: once it
	// was deleted, its key is gone, and a later incarnation's key must never be tried on it.
	for _, r := range history[created+1:] {
		if _, ok := r.Data.(events.PersonDeleted); ok {
			out.Erased = true
			return out, nil
		}
	}
	name, err := au.keys.Open(ctx, personID, sealed)
	if errors.Is(err, keys.ErrShredded) {
		out.Erased = true
		return out, nil
	}
	if err != nil {
		return PersonAsOf{}, err
	}
	out.Name = &name
	return out, nil
}

// withBatchSteps returns the person's history with the step events of the batches its deletion
// requests name that list the person, in log order: a bulk deletion records a person's steps
// once per batch, on the batch's subject (docs/adr/0003).
func withBatchSteps(ctx context.Context, load func(ctx context.Context, aggregate, id string) ([]events.Recorded, uint64, error),
	personID string, history []events.Recorded) ([]events.Recorded, error) {
	var batches []string
	for _, r := range history {
		if e, ok := r.Data.(events.PersonDeletionRequested); ok && e.Batch != "" && !slices.Contains(batches, e.Batch) {
			batches = append(batches, e.Batch)
		}
	}
	if len(batches) == 0 {
		return history, nil
	}
	out := slices.Clone(history)
	for _, b := range batches {
		steps, _, err := load(ctx, events.AggregateBatch, b)
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", b, err)
		}
		for _, r := range steps {
			if slices.Contains(events.PersonIDsOf(r.Data), personID) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b events.Recorded) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

func nonNilIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// Receipt returns the signed deletion receipt of the person's deletion deletionID (the last
// completed one when empty), built from the person's events in the log and the steps the
// deletion's batches recorded.
func (au *Audit) Receipt(ctx context.Context, personID, deletionID string) ([]byte, error) {
	if au.receipts.signer == nil {
		return nil, ErrNoSigner
	}
	if err := domain.ValidateID(personID); err != nil {
		return nil, fmt.Errorf("person_id: %w", err)
	}
	rc, err := receipts.FromLog(ctx, au.log, personID, deletionID, au.receipts.stream)
	if err != nil {
		return nil, err
	}
	return au.receipts.signer.Sign(rc), nil
}

// ReceiptPublicKey returns the key that verifies this service's receipts.
func (au *Audit) ReceiptPublicKey() (ed25519.PublicKey, error) {
	if au.receipts.signer == nil {
		return nil, ErrNoSigner
	}
	return au.receipts.signer.PublicKey(), nil
}

// The audit trail as the read side answers it, named here so that front doors need only app.
type (
	AuditFilter       = projections.AuditFilter
	AuditEntry        = projections.AuditEntry
	AuditVerification = projections.AuditVerification
)

// AuditTimeFormat is how an audit entry's time is written (UTC, to the microsecond).
const AuditTimeFormat = projections.AuditTimeFormat
