package sagas

import (
	"context"

	"github.com/erasure-dev/erasure/domain"
)

// PersonState is a person as the read model holds it, with the sequence of its last event.
type PersonState struct {
	domain.PersonSnapshot
	Version uint64
}

// PersonStates is the read side the sagas decide from on their fast path: one query for a whole
// batch instead of replaying each person's events. Its answers are as of a sequence the caller
// waits for; every append decided from them expects the person's Version, so a stale answer only
// sends that person down the slow path (replay from the log).
type PersonStates interface {
	WaitFor(ctx context.Context, seq uint64) error
	Persons(ctx context.Context, ids []string, parts StateParts) (map[string]PersonState, error)
}

// StateParts says which of a person's collections a read needs; the rest stay empty.
type StateParts uint8

// The collections of a person state.
const (
	WithGroups StateParts = 1 << iota
	WithPermissionGroups
	WithFaces
)
