package tencent

import (
	"context"
	"fmt"
	"time"
)

// named is what a creating action names: the persons and groups it brings into being, or
// brings something (a face, a membership) into.
type named struct{ persons, groups []string }

// creations lists the actions that bring a person, a face, a membership or a group into being,
// each with the persons and groups it names. A replay of one of them must not undo a deletion.
// Each reads the parameters it names with the action's own field types; parameters that do not
// decode name nothing, and the action refuses them itself.
var creations = map[string]func(decode func(any) error) named{
	"CreateGroup": func(decode func(any) error) named {
		var p struct {
			GroupID *string `json:"GroupId"`
		}
		if decode(&p) != nil {
			return named{}
		}
		return named{groups: ids(p.GroupID)}
	},
	"CreatePerson": func(decode func(any) error) named {
		var p struct {
			PersonID *string `json:"PersonId"`
			GroupID  *string `json:"GroupId"`
		}
		if decode(&p) != nil {
			return named{}
		}
		return named{persons: ids(p.PersonID), groups: ids(p.GroupID)}
	},
	"CreateFace": func(decode func(any) error) named {
		var p struct {
			PersonID *string `json:"PersonId"`
		}
		if decode(&p) != nil {
			return named{}
		}
		return named{persons: ids(p.PersonID)}
	},
	"CopyPerson": func(decode func(any) error) named {
		var p struct {
			PersonID *string  `json:"PersonId"`
			GroupIDs []string `json:"GroupIds"`
		}
		if decode(&p) != nil {
			return named{}
		}
		return named{persons: ids(p.PersonID), groups: p.GroupIDs}
	},
}

func ids(p *string) []string {
	if p == nil || *p == "" {
		return nil
	}
	return []string{*p}
}

// signedAfterDeletions refuses a creating action that could be a replay undoing a deletion of
// what it names: one signed (X-TC-Timestamp, whole seconds) in a second before the deletion was
// requested, or a repeat of a signature first accepted before the deletion was requested. A
// fresh request signed in the deletion's own second passes: the SDK signs whole seconds, and a
// client that deletes and registers again at once must not be refused.
func (api *API) signedAfterDeletions(ctx context.Context, action string, decode func(any) error, signedAt int64,
	first SignatureUse, seen bool) error {
	names, ok := creations[action]
	if !ok {
		return nil
	}
	n := names(decode)
	if len(n.persons) == 0 && len(n.groups) == 0 {
		return nil
	}
	d, deleted, err := api.app.LatestDeletion(ctx, n.persons, n.groups)
	if err != nil || !deleted {
		return err
	}
	if signedAt < d.RequestedAt.Unix() || seen && d.RequestedAt.After(first.AcceptedAt) {
		return fmt.Errorf("%w the deletion of %s %s was requested (signed %s, deletion requested %s): sign the request again",
			errSignedBeforeDeletion, d.Kind, d.ID, time.Unix(signedAt, 0).UTC().Format(time.RFC3339),
			d.RequestedAt.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
