package console

import (
	"context"
	"errors"
	"time"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// This file is the console's one use of the application layer: every call to app, and every
// app type the pages show, passes through here, so a change of app's signatures is adapted in
// one place.

type (
	deletion       = app.Deletion
	deletionFilter = app.DeletionFilter
	deletionCursor = app.DeletionCursor
	deletionItem   = app.DeletionItem
	itemFilter     = app.ItemFilter
	failureGroup   = app.FailureGroup
	failureKey     = app.FailureKey
)

// New returns the console over a.
func New(a *app.App, cfg Config) *Console { return newConsole(backend{app: a}, cfg) }

// backend is what the console asks of the application layer, as the actor (the key's name)
// who asks.
type backend struct{ app *app.App }

func caller(actor, requestID string) app.Caller {
	return app.Caller{Actor: actor, RequestID: requestID}
}

func (b backend) ready(ctx context.Context) error { return b.app.Ready(ctx) }

func (b backend) listDeletions(ctx context.Context, f deletionFilter) ([]deletion, error) {
	return b.app.ListDeletions(ctx, f)
}

func (b backend) deletion(ctx context.Context, id string) (deletion, error) {
	return b.app.GetDeletion(ctx, id)
}

func (b backend) failures(ctx context.Context, id string) ([]failureGroup, error) {
	return b.app.DeletionFailures(ctx, id)
}

func (b backend) items(ctx context.Context, id string, f itemFilter, after int64, limit int) ([]deletionItem, error) {
	return b.app.DeletionItemsWhere(ctx, id, f, after, limit)
}

func (b backend) retry(ctx context.Context, actor, requestID, id string, g failureKey) (int, error) {
	return b.app.RetryFailures(ctx, caller(actor, requestID), id, g)
}

func (b backend) cancel(ctx context.Context, actor, requestID, id string) error {
	return b.app.CancelDeletion(ctx, caller(actor, requestID), id)
}

// requestDeletion records a deletion of ids (optionally of a group's members), and returns its id.
func (b backend) requestDeletion(ctx context.Context, actor, requestID string, ids []string, groupID string) (string, error) {
	id, _, err := b.app.RequestDeletion(ctx, caller(actor, requestID), app.DeletionInput{
		GroupID: groupID,
		IDs: func(yield func(string) bool) error {
			for _, id := range ids {
				if !yield(id) {
					return nil
				}
			}
			return nil
		},
	})
	return id, err
}

// isNotFound reports whether err means the deletion does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, app.ErrNotFound) || errors.Is(err, domain.ErrDeletionNotFound)
}

// isInvalid reports whether err is the operator's mistake (an unknown group, a bad group ID,
// no ID at all, a finished deletion): the page says so instead of failing.
func isInvalid(err error) bool {
	for _, e := range []error{app.ErrInvalidArgument, app.ErrNoIDs, app.ErrNotFound, domain.ErrGroupNotFound,
		domain.ErrGroupDeleting, domain.ErrIDEmpty, domain.ErrIDTooLong, domain.ErrIDIllegal, domain.ErrDeletionFinished} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// validID returns why id cannot be a person ID, or nil.
func validID(id string) error { return domain.ValidateID(id) }

// stepFailed is the code of an item a retry resumes (app.RetryFailures retries no other).
const stepFailed = domain.CodeStepFailed

// since is the time a deletion has run: to its completion, or to now.
func since(d deletion, now time.Time) time.Duration {
	if d.CompletedAt != nil {
		return d.CompletedAt.Sub(d.CreatedAt)
	}
	return now.Sub(d.CreatedAt)
}
