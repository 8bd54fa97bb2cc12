package sagas

import (
	"context"
	"errors"

	"github.com/erasure-dev/erasure/events"
)

// Stores is the downstream side of a person deletion: the stores that hold what a deletion
// removes. Every method takes a batch of persons, removes all they hold in that store, and is
// idempotent: purging what is already gone succeeds.
type Stores interface {
	UnbindPermissionGroups(ctx context.Context, personIDs []string) error
	PurgeFaces(ctx context.Context, personIDs []string) error
	// PurgePhotos is told the photo keys each person is expected to hold, where the saga knows
	// them (a batch's start lists them; none on the per-person path): a store may remove those
	// without listing the person's photos first, but must remove every photo of the persons.
	PurgePhotos(ctx context.Context, photos []events.PersonPhotos) error
}

// Target is an external system a person is also deleted from: an edge box, a cloud face
// library, any HTTP service. A deletion fans out to every configured one after the built-in
// stores are purged, and the person is deleted only once each confirmed.
type Target interface {
	// Name identifies the target in events, items and logs.
	Name() string
	// DeletePersons deletes the persons from the target, as many per call as its API allows,
	// and returns why for each person it could not delete (nil: all done). A person the
	// target does not hold counts as deleted. An error wrapping ErrPermanent is not retried.
	DeletePersons(ctx context.Context, personIDs []string) map[string]error
}

// ErrPermanent marks a target's refusal that retrying cannot change (wrong credentials, a
// request the target rejects): the item fails at once, for an operator to retry after repair.
var ErrPermanent = errors.New("permanent")
