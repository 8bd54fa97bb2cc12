// Package webhooks tells downstream systems about deletion outcomes without polling: signed HTTP
// deliveries in the Standard Webhooks format (DESIGN §5), at least once, each endpoint on its own
// queue, retried on a schedule and dead-lettered after it.
//
// The pieces:
//   - subscriptions (POST /v1/webhooks) and per-request callbacks (a deletion's callback_url) are
//     endpoints, kept in SQL beside the built-in stores: they are not a read model, nothing in
//     them can be rebuilt from the log (secrets, attempts, dead letters), so `erasure replay`
//     never touches them;
//   - the intake: a Watermill router on a durable JetStream consumer of the log turns each outcome
//     event (PersonDeleted, PersonDeletionFailed, DeletionCompleted, GroupDeleted, and the items a
//     dispatch failed) into one delivery row per interested endpoint, then acknowledges it, so no
//     outcome is lost between the log and the queue;
//   - the scheduler: one worker per endpoint with due deliveries, so a slow or dead endpoint only
//     ever waits for itself; the deliveries table is the queue, so it survives restarts, and a
//     delivery whose outcome is unknown (the process died while sending) is sent again, with the
//     same webhook-id, once its claim runs out.
//
// Bodies carry IDs, codes, steps, counts and times only: never a name, never biometric data.
package webhooks
