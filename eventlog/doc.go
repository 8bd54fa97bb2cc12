// Package eventlog is erasure's log of record on NATS JetStream: the store (appends with the
// expected sequence per subject, atomic batches, loads, follows), the codec between events'
// envelopes and messages, durable consumers and the load-decide-append loop (Execute and the
// typed updates). Package events holds what the log holds, as pure data.
package eventlog
