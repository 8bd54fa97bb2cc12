// Package events holds erasure's event types, the envelope that carries them, the codec that maps an
// envelope to a JetStream message and back, and the JetStream event store: the log that is the source
// of truth for every read model and saga.
package events
