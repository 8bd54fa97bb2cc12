// Package projections builds erasure's SQL read models from the event log. A Runner follows the
// log in order and applies each batch of events in one transaction together with its checkpoint
// (the stream sequence), so a crash re-applies nothing and skips nothing.
package projections
