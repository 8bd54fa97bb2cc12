package sagas

import "context"

// Target is the downstream side of a person deletion: the stores that hold what a deletion
// removes. Every method takes a batch of persons, removes all they hold in that store, and is
// idempotent: purging what is already gone succeeds.
type Target interface {
	UnbindPermissionGroups(ctx context.Context, personIDs []string) error
	PurgeFaces(ctx context.Context, personIDs []string) error
	PurgePhotos(ctx context.Context, personIDs []string) error
}
