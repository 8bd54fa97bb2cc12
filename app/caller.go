package app

import "github.com/erasure-dev/erasure/events"

// Caller is who asks the application layer for a change, and within which request: what the
// change's events record of it. Front doors fill it from their request; app turns it into the
// events' metadata, so that no front door builds events.Meta itself.
type Caller struct {
	// Actor names who asked: the API key's name, or the surface where none is required
	// (native-api, sophon, tencent-api), or a tool (bench).
	Actor string
	// RequestID ties the change's events to the request that asked for it (X-Request-Id): the
	// events' correlation id. Empty, a deletion request correlates with its own id.
	RequestID string
}

// meta is the metadata of the events the caller's change appends.
func (c Caller) meta() events.Meta {
	return events.Meta{CorrelationID: c.RequestID, Actor: c.Actor}
}

// NewID returns a fresh random identifier (128 bits in hex), the form of every id erasure
// generates: for what a front door must name before it asks app (an identity created without
// an id, a request without an id).
func NewID() string { return events.NewID() }
