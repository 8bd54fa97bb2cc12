package console

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/receipts"
)

// The Audit and Receipts pages' calls into the application layer (see app.go).

type (
	auditFilter       = app.AuditFilter
	auditEntry        = app.AuditEntry
	auditVerification = app.AuditVerification
)

// personState is what the registry held for a person at a moment: app.PersonAsOf without its
// name, so that no page can show the name, whatever its template says.
type personState struct {
	PersonID           string
	AsOf               time.Time
	State              string // absent, active, deleting, deleted
	GroupIDs           []string
	FaceCount          int
	PermissionGroupIDs []string
	// Erased: the person was deleted since, and its data key with it.
	Erased bool
	// Seq is the log position of the person's last event at that moment (0: none).
	Seq uint64
}

func (b backend) auditEntries(ctx context.Context, f auditFilter) ([]auditEntry, error) {
	return b.app.AuditEntries(ctx, f)
}

func (b backend) verifyAudit(ctx context.Context) (auditVerification, error) {
	return b.app.VerifyAudit(ctx)
}

// personAsOf returns the person's state at t, and false when the person has no entry in the
// audit trail at all (an ID the service never saw: "absent" would say too little).
func (b backend) personAsOf(ctx context.Context, personID string, t time.Time) (personState, bool, error) {
	p, err := b.app.PersonAt(ctx, personID, t)
	if err != nil {
		return personState{}, false, err
	}
	if p.Seq == 0 {
		seen, err := b.app.AuditEntries(ctx, auditFilter{PersonID: personID, Limit: 1})
		if err != nil {
			return personState{}, false, err
		}
		if len(seen) == 0 {
			return personState{}, false, nil
		}
	}
	return personState{PersonID: p.PersonID, AsOf: p.AsOf, State: p.State, GroupIDs: p.GroupIDs, FaceCount: p.FaceCount,
		PermissionGroupIDs: p.PermissionGroupIDs, Erased: p.Erased, Seq: p.Seq}, true, nil
}

// receipt returns the signed receipt file of the person's deletion deletionID (the last
// completed one when empty), byte for byte as signed.
func (b backend) receipt(ctx context.Context, personID, deletionID string) ([]byte, error) {
	return b.app.Receipt(ctx, personID, deletionID)
}

func (b backend) receiptPublicKey() (ed25519.PublicKey, error) { return b.app.ReceiptPublicKey() }

// isNoReceipt reports whether err means the person has no completed deletion (an unknown
// person has none either).
func isNoReceipt(err error) bool { return errors.Is(err, receipts.ErrNoReceipt) }

// isNoSigner reports whether err means the service has no receipt signing key.
func isNoSigner(err error) bool { return errors.Is(err, app.ErrNoSigner) }
