package projections

import (
	"context"

	"github.com/erasure-dev/erasure/eventlog"
)

// AuditEntries returns the audit trail's entries matching f, oldest first.
func (q Queries) AuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	return AuditEntries(ctx, q.DB, f)
}

// VerifyAudit recomputes the audit chain from log up to the read model's checkpoint and
// compares it with the stored trail (VerifyAudit).
func (q Queries) VerifyAudit(ctx context.Context, log *eventlog.Store) (AuditVerification, error) {
	return VerifyAudit(ctx, q.DB, log, "")
}
