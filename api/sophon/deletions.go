package sophon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/erasure-dev/erasure/app"
	"github.com/erasure-dev/erasure/domain"
)

// MaxIdentityIDs is deleteidentities' per-call limit. Sophon documents none; a thousand is one
// chunk of a deletion request (domain.DefaultChunkSize) and far beyond what an edge box's clients
// send at once. Bigger batches belong on the native API, which streams millions.
const MaxIdentityIDs = 1000

// deleteIdentitiesAnswer is the seed's answer, plus what an answer within a bounded wait needs:
// the IDs still running, and the deletion's id to follow them on the native API.
type deleteIdentitiesAnswer struct {
	Success   []string `json:"success_identity_ids"`
	Failed    []string `json:"failed_identity_ids"`
	Pending   []string `json:"pending_identity_ids"`
	RequestID string   `json:"request_id"`
}

// deleteIdentities deletes persons entirely (bindings, faces, photos) through the same deletion
// request as the native API, and answers once every ID is terminal or the wait is over.
func (api *API) deleteIdentities(r *http.Request) (any, error) {
	var req struct {
		IdentityIDs []string `json:"identity_ids"`
		// NotifyPath is where the result also goes once every ID is terminal, in the Sophon
		// management platform's shape (a callback in the "sophon" format).
		NotifyPath string `json:"notify_path"`
	}
	if err := decode(r, maxSmallBody, &req); err != nil {
		return nil, err
	}
	// Everything is checked before the request is recorded: a refused call deletes nothing.
	if err := validateIdentityIDs(req.IdentityIDs); err != nil {
		return nil, err
	}
	ans, err := api.deleteAndWait(r.Context(), caller(r), req.IdentityIDs, req.NotifyPath)
	if err != nil {
		return nil, err
	}
	return ans, nil
}

func validateIdentityIDs(ids []string) error {
	if len(ids) == 0 {
		return fmt.Errorf("%w: identity_ids must name at least one id", errMissing)
	}
	if len(ids) > MaxIdentityIDs {
		return fmt.Errorf("%w: identity_ids names %d ids, at most %d per call", errInvalid, len(ids), MaxIdentityIDs)
	}
	seen := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if err := domain.ValidateID(id); err != nil {
			return fmt.Errorf("%w: identity_ids[%d] %q: %v", errInvalid, i, shorten(id), err)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: identity_ids[%d] %q", errRepeat, i, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// shorten keeps an illegal ID from filling an error message.
func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// deleteAndWait records a deletion of ids and waits up to the configured time for its outcome.
func (api *API) deleteAndWait(ctx context.Context, c app.Caller, ids []string, notifyPath string) (deleteIdentitiesAnswer, error) {
	in := app.DeletionInput{CallbackURL: notifyPath, Source: app.SourceSophon}
	if notifyPath != "" {
		in.CallbackFormat = app.CallbackSophon
	}
	in.IDs = func(yield func(string) bool) error {
		for _, id := range ids {
			if !yield(id) {
				return nil
			}
		}
		return nil
	}
	id, _, err := api.app.RequestDeletion(ctx, c, in)
	if err != nil {
		return deleteIdentitiesAnswer{}, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, api.wait)
	defer cancel()
	items, err := api.app.WaitDeletion(waitCtx, id)
	if err != nil {
		return deleteIdentitiesAnswer{}, err
	}
	ans := deleteIdentitiesAnswer{Success: []string{}, Failed: []string{}, Pending: []string{}, RequestID: id}
	for _, it := range items {
		switch it.State {
		case app.ItemDeleted:
			ans.Success = append(ans.Success, it.PersonID)
		case app.ItemPending:
			ans.Pending = append(ans.Pending, it.PersonID)
		default: // failed (unknown IDs among them) or cancelled
			ans.Failed = append(ans.Failed, it.PersonID)
		}
	}
	return ans, nil
}
