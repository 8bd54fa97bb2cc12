// Package events holds what erasure's log holds, as pure data: the event types, the envelope and
// metadata that carry them, the registry of names and schema versions, and the upcasters that read
// older versions. It imports no infrastructure (TestEventsAndDomainImportNoInfrastructure), so the
// domain decides in terms of it without I/O. The log itself, on NATS JetStream, is package eventlog.
package events
