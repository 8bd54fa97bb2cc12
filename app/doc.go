// Package app is erasure's application layer, the one path behind every front door: commands
// load an aggregate from the log, let the domain decide, append with the expected sequence and
// wait until the read model shows the effect; queries ask the read side (projections.Queries),
// which holds every statement over the read model: app holds none. The HTTP surfaces only
// translate their protocols to these calls.
//
// The layer is split by capability, each a type holding only the dependencies it uses:
//
//   - Registry: persons, groups, faces and permission groups, their creation, reads,
//     memberships and bindings (registry.go, groups.go, identities.go, faces.go,
//     permissions.go, seed.go). It seals names with the key store and writes photos and face
//     records to the downstream stores (Registrar).
//   - Deletions: deletion requests and their lists, items, failures, retries, cancellation
//     and live updates, a group's or one person's deletion, the backpressure of bulk intakes,
//     and the external targets with their figures (deletions.go, delete.go, deletion_list.go,
//     deleted.go, follow.go, backpressure.go, targets.go). It asks the Registry whether what a
//     request names exists.
//   - Audit: the audit trail and its verification, a person as of a moment, signed receipts,
//     and the scan for leftovers of deleted persons (audit.go, verify.go). It changes nothing.
//   - Webhooks: the webhook subscriptions and their deliveries (webhooks.go).
//
// App (app.go) composes them: it embeds Registry, Deletions and Audit, so their methods are
// App's, and answers readiness. What they share is small: the caller of a change (caller.go),
// the errors (errors.go, unavailable.go), and the write-then-wait-for-the-read-model helper
// (writes.go), one value of which serves every capability that writes.
package app
